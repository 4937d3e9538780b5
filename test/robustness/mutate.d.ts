/** Types of mutate.js (plain JavaScript so that `npm run fuzz` runs on node alone). */

export interface LayoutField { at: number; size: number; name: string; le: boolean }
export interface LayoutRecord { start: number; end: number; dataStart: number; type: string; whole: boolean }
export interface Layout {
  format: 'pcap' | 'pcapng' | 'other';
  littleEndian: boolean;
  headerEnd: number;
  records: LayoutRecord[];
  fields: LayoutField[];
}
export interface CaseFile { name: string; bytes: Uint8Array }
export interface FuzzCase { seed: number; index: number; files: CaseFile[]; format: 'json' | 'markdown' | 'table'; redact: boolean; description: string }
export interface CapturingIO {
  out: string[];
  err: string[];
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  isTTY: boolean;
  exitCode: number;
}
export interface Outcome { code?: number; stdout: string; stderr: string; error?: unknown; ms: number }
export type CliMain = (argv: string[], io: CapturingIO) => Promise<number>;

export function createRandom(seed: number): () => number;
export function caseSeed(seed: number, index: number): number;
export const INTERESTING_32: number[];
export const INTERESTING_16: number[];
export const INTERESTING_8: number[];
export function describeLayout(bytes: Uint8Array): Layout;
export function mutate(bytes: Uint8Array, rand: () => number): { bytes: Uint8Array; steps: string[] };
export function makeCase(seed: number, index: number, sources: CaseFile[]): FuzzCase;
export function judgeOutcome(outcome: Outcome, paths: string[], format: string): string | null;
export function createCapturingIO(): CapturingIO;
export function runAnalyze(main: CliMain, paths: string[], format: string, redact: boolean, timeoutMs?: number): Promise<Outcome>;
