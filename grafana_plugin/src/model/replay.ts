/**
 * The replay panel's form, as data: injection drafts typed by a person become
 * a CreateReplaySessionRequest (replay.proto), with a one-line error for any
 * value that would not mean what the person thinks; and a finished session
 * becomes the comparison the panel shows (original vs replay outcome).
 */

import { TransactionStatus } from '../api/gen/kprobe/v1/api_common';
import {
  CreateReplaySessionRequest,
  FailureInjection,
  ReplaySession,
  ReplayState,
  TimingInjection,
} from '../api/gen/kprobe/v1/replay';

export type InjectionKind = 'timeout' | 'add-latency' | 'set-latency' | 'errno';

export interface InjectionDraft {
  kind: InjectionKind;
  /** Syscall name ("write"), empty for any. */
  syscall?: string;
  /** "host:port" of a socket's peer, empty for any. */
  peer?: string;
  fd?: string;
  /** Milliseconds, decimals allowed: the timeout, the added or the set latency. */
  ms?: string;
  /** errno name for `errno`. */
  errno?: string;
  /** strace's `when`: nth matching call (1-based, empty = every), then every `step`. */
  nth?: string;
  step?: string;
  /** Environment variable holding the timeout the program reads (ms). */
  env?: string;
}

export interface ReplaySource {
  transactionId?: string;
  recording?: string;
}

export class ReplayFormError extends Error {}

export const ERRNOS = [
  'ETIMEDOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'EIO',
  'ENOSPC',
  'EAGAIN',
  'EINTR',
  'EPIPE',
  'ENOMEM',
];

const NS_PER_MS = 1_000_000;

export function buildReplayRequest(source: ReplaySource, drafts: InjectionDraft[]): CreateReplaySessionRequest {
  const txn = source.transactionId?.trim();
  const recording = source.recording?.trim();
  if (!txn && !recording) {
    throw new ReplayFormError('choose a transaction or a recording to replay');
  }
  const timing: TimingInjection[] = [];
  const failures: FailureInjection[] = [];
  const env: Record<string, string> = {};
  drafts.forEach((d, i) => {
    const where = `injection ${i + 1} (${d.kind})`;
    const target = {
      syscall: d.syscall?.trim() || undefined,
      peer: d.peer?.trim() || undefined,
      fd: d.fd?.trim() ? integer(d.fd, `${where}: fd`, 0) : undefined,
    };
    switch (d.kind) {
      case 'timeout': {
        const name = d.env?.trim();
        if (!name || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
          throw new ReplayFormError(`${where}: name the environment variable that holds the timeout`);
        }
        env[name] = String(Math.round(milliseconds(d.ms, where)));
        break;
      }
      case 'add-latency':
        timing.push({ ...target, add_latency_ns: String(Math.round(milliseconds(d.ms, where) * NS_PER_MS)) });
        break;
      case 'set-latency':
        timing.push({ ...target, set_latency_ns: String(Math.round(milliseconds(d.ms, where) * NS_PER_MS)) });
        break;
      case 'errno': {
        const errno = d.errno?.trim().toUpperCase();
        if (!errno || !/^E[A-Z0-9]+$/.test(errno)) {
          throw new ReplayFormError(`${where}: an errno name such as ETIMEDOUT is needed`);
        }
        if (!target.syscall) {
          throw new ReplayFormError(`${where}: name the syscall that should fail`);
        }
        failures.push({
          ...target,
          error: errno,
          nth: d.nth?.trim() ? integer(d.nth, `${where}: nth`, 1) : 0,
          step: d.step?.trim() ? integer(d.step, `${where}: step`, 0) : 0,
        });
        break;
      }
    }
  });
  return {
    ...(txn ? { transaction_id: txn } : { recording }),
    timing,
    failures,
    ...(Object.keys(env).length > 0 ? { config: { env } } : {}),
    start: true,
  };
}

function milliseconds(raw: string | undefined, where: string): number {
  const v = Number(raw?.trim());
  if (!raw?.trim() || !Number.isFinite(v) || v < 0) {
    throw new ReplayFormError(`${where}: milliseconds must be a number ≥ 0, got "${raw ?? ''}"`);
  }
  return v;
}

function integer(raw: string, where: string, min: number): number {
  const v = Number(raw.trim());
  if (!Number.isInteger(v) || v < min) {
    throw new ReplayFormError(`${where} must be an integer ≥ ${min}, got "${raw}"`);
  }
  return v;
}

const FINAL = new Set<ReplayState | undefined>([
  ReplayState.REPLAY_STATE_SUCCEEDED,
  ReplayState.REPLAY_STATE_DIVERGED,
  ReplayState.REPLAY_STATE_FAILED,
  ReplayState.REPLAY_STATE_CANCELLED,
]);

export function isFinal(state?: ReplayState): boolean {
  return FINAL.has(state);
}

export type Verdict = 'succeeded' | 'failed' | 'unknown';

export interface ReplayComparison {
  original: Verdict;
  replay: Verdict;
  changed: boolean;
  /** Where the replay left the recording, in words; undefined when it did not. */
  divergence?: string;
  exitStatus?: { original: number; replay: number };
  /** Why there is no outcome (the replay machinery failed or was cancelled). */
  problem?: string;
}

function verdict(status?: TransactionStatus, exit?: number): Verdict {
  if (status === TransactionStatus.TRANSACTION_STATUS_OK) {
    return 'succeeded';
  }
  if (status === TransactionStatus.TRANSACTION_STATUS_ERROR) {
    return 'failed';
  }
  return exit === undefined ? 'unknown' : exit === 0 ? 'succeeded' : 'failed';
}

/** The outcome of a finished session next to the recorded one. */
export function compareOutcome(session: ReplaySession, originalFromGraph?: Verdict): ReplayComparison {
  const progress = session.progress ?? {};
  const o = progress.outcome;
  const state = session.state ?? progress.state;
  if (!o || state === ReplayState.REPLAY_STATE_FAILED || state === ReplayState.REPLAY_STATE_CANCELLED) {
    return {
      original: originalFromGraph ?? 'unknown',
      replay: 'unknown',
      changed: false,
      problem: progress.message || String(state ?? 'no outcome'),
    };
  }
  const original = verdict(o.recorded_transaction_status, o.recorded_exit_status ?? 0);
  const replay = verdict(o.transaction_status, o.exit_status ?? 0);
  const d = o.divergence;
  return {
    original: original === 'unknown' ? (originalFromGraph ?? 'unknown') : original,
    replay,
    changed: original !== replay,
    divergence:
      d && (d.syscall || d.event_index)
        ? `at event ${d.event_index ?? 0}: ${d.syscall ?? '?'} — expected ${d.expected ?? '?'}, got ${d.actual ?? '?'}`
        : undefined,
    exitStatus: { original: o.recorded_exit_status ?? 0, replay: o.exit_status ?? 0 },
  };
}
