/**
 * What span of time a capture covered. A file does not record when its capture stopped, and the
 * server capture's tail is silent by nature in the case synprobe exists for, so coverage never
 * ends at the last packet of the server capture unless a stop was recorded (design.md).
 */
import type { CaptureSummary } from '../read/types.js';
import type { CaptureFacts } from './types.js';
import type { TimeBase } from './time.js';

/** Recorded facts about one capture that a file alone cannot give (from run.json or options). */
export interface RecordedCapture {
  /** [epoch seconds, nanoseconds] in the capturing host's clock. */
  start?: [number, number] | null;
  stop?: [number, number] | null;
  drops?: number | null;
  source: 'run.json' | 'option';
}

export interface Coverage {
  /** Relative ns in the capture's own clock. */
  start: number;
  end: number;
  startSource: NonNullable<CaptureFacts['coverStartSource']>;
  endSource: NonNullable<CaptureFacts['coverEndSource']>;
  drops: number | null;
  dropsSource: CaptureFacts['kernelDropsSource'];
}

function isbBounds(summary: CaptureSummary, time: TimeBase): { start: number; end: number; drops: number | null } {
  let start = NaN;
  let end = NaN;
  let drops: number | null = null;
  for (const ifc of summary.interfaces) {
    if (ifc.startTime) start = Number.isNaN(start) ? time.rel(...ifc.startTime) : Math.min(start, time.rel(...ifc.startTime));
    if (ifc.endTime) end = Number.isNaN(end) ? time.rel(...ifc.endTime) : Math.max(end, time.rel(...ifc.endTime));
    const d = (ifc.ifDrops ?? 0) + (ifc.osDrops ?? 0);
    if (ifc.ifDrops !== null || ifc.osDrops !== null) drops = (drops ?? 0) + d;
  }
  return { start, end, drops };
}

/**
 * Coverage of one capture. `assumedEnd` is used when nothing recorded a stop and the last packet
 * must not be taken as the end (the server capture): pass the client's end mapped to this clock.
 */
export function findCoverage(
  summary: CaptureSummary,
  firstNs: number,
  lastNs: number,
  time: TimeBase,
  recorded: RecordedCapture | undefined,
  assumedEnd: number | undefined,
): Coverage {
  const isb = isbBounds(summary, time);
  let start: number;
  let startSource: Coverage['startSource'];
  if (recorded?.start) {
    start = time.rel(...recorded.start);
    startSource = recorded.source;
  } else if (!Number.isNaN(isb.start)) {
    start = isb.start;
    startSource = 'pcapng-isb';
  } else {
    start = firstNs;
    startSource = 'first-packet';
  }
  let end: number;
  let endSource: Coverage['endSource'];
  if (recorded?.stop) {
    end = time.rel(...recorded.stop);
    endSource = recorded.source;
  } else if (!Number.isNaN(isb.end)) {
    end = isb.end;
    endSource = 'pcapng-isb';
  } else if (assumedEnd !== undefined) {
    end = Number.isNaN(lastNs) ? assumedEnd : Math.max(assumedEnd, lastNs);
    endSource = 'assumed';
  } else {
    end = lastNs;
    endSource = 'last-packet';
  }
  // A recorded start later than the first packet (clock read after tcpdump began) is narrowed to the packet.
  if (!Number.isNaN(firstNs) && firstNs < start) start = firstNs;
  if (!Number.isNaN(lastNs) && lastNs > end) end = lastNs;
  let drops: number | null = null;
  let dropsSource: Coverage['dropsSource'] = null;
  if (recorded?.drops !== undefined && recorded.drops !== null) {
    drops = recorded.drops;
    dropsSource = recorded.source;
  } else if (isb.drops !== null) {
    drops = isb.drops;
    dropsSource = 'pcapng-isb';
  }
  return { start, end, startSource, endSource, drops, dropsSource };
}
