/**
 * The probe's native connect loop (native/connect.c), built by `npm install` (native/build.js)
 * when a C compiler is there. Loaded once; when it is missing or will not load, the probe uses
 * Node's sockets and says why (`nativeEngine().reason`).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A pair as the native loop takes it. */
export interface NativePair { source: string | null; port: number }

export interface NativeCreateOptions {
  host: string;
  pairs: NativePair[];
  localPorts: Uint16Array | null;
  max: number;
  timeoutMs: number;
}

export interface NativeFailure {
  /** errno: a syscall's error; ports-exhausted / busy-in-a-row: the probe's local-port rules. */
  reason: 'errno' | 'ports-exhausted' | 'busy-in-a-row';
  errno: number;
  /** The syscall that failed; 'timeout': no answer within timeoutMs; '' for the port rules. */
  syscall: 'socket' | 'bind' | 'connect' | 'timeout' | '';
  attempt: number;
  pair: number;
  startedWallMs: number;
  elapsedMs: number;
  localAddress?: string;
  localPort?: number;
}

export interface NativeRunResult {
  stop: 'max' | 'failure' | 'aborted';
  attempts: number;
  established: number;
  skipped: number;
  durationMs: number;
  pairAttempts: number[];
  pairEstablished: number[];
  pairSkipped: number[];
  failure?: NativeFailure;
}

declare const engineBrand: unique symbol;
export type NativeEngine = { readonly [engineBrand]: true };

export interface NativeBinding {
  create(options: NativeCreateOptions): NativeEngine;
  run(engine: NativeEngine): Promise<NativeRunResult>;
  cancel(engine: NativeEngine): void;
  /** [held, attempts] while the loop runs. */
  progress(engine: NativeEngine): [number, number];
  closeAll(engine: NativeEngine): void;
}

/**
 * Where `npm install` puts the addon: build/Release under the package root (SYNPROBE_NATIVE_ADDON
 * names another file: tests that run a copy of the probe built elsewhere).
 */
export const NATIVE_ADDON_PATH = process.env.SYNPROBE_NATIVE_ADDON
  || join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'Release', 'synprobe_connect.node');

let loaded: { binding: NativeBinding | null; reason: string | null } | null = null;

/** The native loop, or null and why not. */
export function nativeEngine(): { binding: NativeBinding | null; reason: string | null } {
  if (loaded) return loaded;
  if (!existsSync(NATIVE_ADDON_PATH)) {
    loaded = { binding: null, reason: `the native connect loop was not built (${NATIVE_ADDON_PATH} is missing: npm install needs a C compiler, make and python3; then run npm rebuild)` };
    return loaded;
  }
  try {
    const binding = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeBinding;
    loaded = { binding, reason: null };
  } catch (error) {
    loaded = { binding: null, reason: `the native connect loop did not load: ${(error as Error).message.split('\n')[0]}` };
  }
  return loaded;
}
