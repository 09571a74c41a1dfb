import { TransactionStatus } from '../api/gen/kprobe/v1/api_common';
import { ReplayState } from '../api/gen/kprobe/v1/replay';
import { ReplayFormError, buildReplayRequest, compareOutcome } from './replay';

describe('replay form → CreateReplaySessionRequest', () => {
  it('turns a raised timeout into the program environment', () => {
    expect(
      buildReplayRequest({ transactionId: ' pay-1 ' }, [{ kind: 'timeout', env: 'TIMEOUT_MS', ms: '1500' }])
    ).toEqual({
      transaction_id: 'pay-1',
      timing: [],
      failures: [],
      config: { env: { TIMEOUT_MS: '1500' } },
      start: true,
    });
  });

  it('turns latency and errno injections into timing and failure rules (ns as strings)', () => {
    const r = buildReplayRequest({ recording: '/rec/pay.kprec' }, [
      { kind: 'add-latency', syscall: 'write', ms: '0.25' },
      { kind: 'set-latency', syscall: 'write', fd: '7', ms: '100' },
      { kind: 'errno', syscall: 'connect', peer: '10.0.0.5:5432', errno: 'econnrefused', nth: '2', step: '3' },
    ]);
    expect(r.recording).toBe('/rec/pay.kprec');
    expect(r.transaction_id).toBeUndefined();
    expect(r.timing).toEqual([
      { syscall: 'write', add_latency_ns: '250000' },
      { syscall: 'write', fd: 7, set_latency_ns: '100000000' },
    ]);
    expect(r.failures).toEqual([{ syscall: 'connect', peer: '10.0.0.5:5432', error: 'ECONNREFUSED', nth: 2, step: 3 }]);
    expect(r.config).toBeUndefined();
  });

  it.each([
    [{}, [], 'choose a transaction or a recording'],
    [
      { transactionId: 'x' },
      [{ kind: 'add-latency', ms: 'soon' }],
      'injection 1 (add-latency): milliseconds must be a number',
    ],
    [{ transactionId: 'x' }, [{ kind: 'timeout', env: 'bad name', ms: '1' }], 'name the environment variable'],
    [{ transactionId: 'x' }, [{ kind: 'errno', syscall: 'write', errno: '5' }], 'an errno name'],
    [{ transactionId: 'x' }, [{ kind: 'errno', errno: 'EIO' }], 'name the syscall'],
    [{ transactionId: 'x' }, [{ kind: 'set-latency', fd: '-1', ms: '1' }], 'fd must be an integer ≥ 0'],
  ] as const)('refuses %j %j in one line', (source, drafts, message) => {
    expect(() => buildReplayRequest(source, [...drafts] as never)).toThrow(ReplayFormError);
    expect(() => buildReplayRequest(source, [...drafts] as never)).toThrow(message);
  });
});

describe('replay outcome beside the original', () => {
  it('reports a failed payment that succeeds with the timeout raised', () => {
    const c = compareOutcome({
      session_id: 's1',
      state: ReplayState.REPLAY_STATE_SUCCEEDED,
      progress: {
        state: ReplayState.REPLAY_STATE_SUCCEEDED,
        outcome: {
          exit_status: 0,
          recorded_exit_status: 1,
          transaction_status: TransactionStatus.TRANSACTION_STATUS_OK,
          recorded_transaction_status: TransactionStatus.TRANSACTION_STATUS_ERROR,
          divergence: { event_index: '412', syscall: 'write', expected: 'ETIMEDOUT path', actual: '200 OK' },
        },
      },
    });
    expect(c).toEqual({
      original: 'failed',
      replay: 'succeeded',
      changed: true,
      divergence: 'at event 412: write — expected ETIMEDOUT path, got 200 OK',
      exitStatus: { original: 1, replay: 0 },
    });
  });

  it('says why there is no outcome when the replay machinery failed', () => {
    const c = compareOutcome(
      { state: ReplayState.REPLAY_STATE_FAILED, progress: { message: 'recording is corrupt at byte 88' } },
      'failed'
    );
    expect(c).toEqual({
      original: 'failed',
      replay: 'unknown',
      changed: false,
      problem: 'recording is corrupt at byte 88',
    });
  });
});
