import React, { useCallback, useEffect, useRef, useState } from 'react';
import { css, cx } from '@emotion/css';
import { GrafanaTheme2, SelectableValue } from '@grafana/data';
import { Alert, Button, IconButton, Input, RadioButtonGroup, Select, useStyles2 } from '@grafana/ui';

import { ApiError, KprobeClient } from '../../api/client';
import { ReplayAction, ReplaySession, ReplayState } from '../../api/gen/kprobe/v1/replay';
import { formatDuration } from '../../model/ns';
import {
  ERRNOS,
  InjectionDraft,
  InjectionKind,
  ReplayComparison,
  ReplayFormError,
  Verdict,
  buildReplayRequest,
  compareOutcome,
  isFinal,
} from '../../model/replay';

export interface ReplayViewProps {
  client: KprobeClient;
  /** Transaction to replay by default (from the query result or a variable). */
  transactionId?: string;
  /** Outcome of the original, when the caller knows it (the causal graph's status). */
  original?: Verdict;
  /** Environment variable the replayed program reads its timeout from. */
  timeoutEnv?: string;
  width: number;
  height: number;
  /** How often to poll a running session. */
  pollMs?: number;
}

const KINDS: Array<SelectableValue<InjectionKind>> = [
  { label: 'Timeout', value: 'timeout', description: 'Replay with a different timeout setting' },
  { label: 'Added latency', value: 'add-latency', description: 'Add latency to matching syscalls' },
  { label: 'Set latency', value: 'set-latency', description: 'Replace the recorded duration of matching syscalls' },
  { label: 'Errno', value: 'errno', description: 'Make matching syscalls fail' },
];

const SYSCALLS = ['', 'write', 'read', 'fsync', 'connect', 'sendto', 'recvfrom', 'accept4', 'poll', 'epoll_wait'];

const STATE_TEXT: Partial<Record<ReplayState, string>> = {
  [ReplayState.REPLAY_STATE_CREATED]: 'created',
  [ReplayState.REPLAY_STATE_RUNNING]: 'running',
  [ReplayState.REPLAY_STATE_SUCCEEDED]: 'finished',
  [ReplayState.REPLAY_STATE_DIVERGED]: 'diverged',
  [ReplayState.REPLAY_STATE_FAILED]: 'replay failed',
  [ReplayState.REPLAY_STATE_CANCELLED]: 'cancelled',
};

/** Pick a transaction or recording, set injections, launch, follow, compare. */
export function ReplayView(props: ReplayViewProps) {
  const { client, width, height, pollMs = 400 } = props;
  const styles = useStyles2(getStyles);
  const [sourceKind, setSourceKind] = useState<'transaction' | 'recording'>('transaction');
  // What the person typed; until then, the transaction the caller gives.
  const [typedTransactionId, setTransactionId] = useState<string>();
  const transactionId = typedTransactionId ?? props.transactionId ?? '';
  const [recording, setRecording] = useState('');
  const [drafts, setDrafts] = useState<InjectionDraft[]>([
    { kind: 'timeout', env: props.timeoutEnv ?? 'TIMEOUT_MS', ms: '1500' },
  ]);
  const [error, setError] = useState<string>();
  const [session, setSession] = useState<ReplaySession>();
  const [busy, setBusy] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout>>();

  useEffect(() => () => clearTimeout(timer.current), []);

  const follow = useCallback(
    (id: string) => {
      const tick = async () => {
        try {
          const s = await client.replaySession(id);
          setSession(s);
          if (isFinal(s.state)) {
            setBusy(false);
            return;
          }
        } catch (e) {
          setError(message(e));
          setBusy(false);
          return;
        }
        timer.current = setTimeout(tick, pollMs);
      };
      tick();
    },
    [client, pollMs]
  );

  const launch = async () => {
    setError(undefined);
    setSession(undefined);
    let request;
    try {
      request = buildReplayRequest(sourceKind === 'transaction' ? { transactionId } : { recording }, drafts);
    } catch (e) {
      setError(message(e));
      return;
    }
    setBusy(true);
    try {
      const created = await client.createReplay(request);
      setSession(created);
      follow(created.session_id ?? '');
    } catch (e) {
      setError(message(e));
      setBusy(false);
    }
  };

  const update = (i: number, patch: Partial<InjectionDraft>) =>
    setDrafts((ds) => ds.map((d, j) => (j === i ? { ...d, ...patch } : d)));

  const final = session && isFinal(session.state);
  const comparison = final ? compareOutcome(session, props.original) : undefined;
  const progress = session?.progress;
  const total = Number(progress?.events_total ?? 0);
  const done = Number(progress?.events_replayed ?? 0);

  return (
    <div className={styles.wrapper} style={{ width, height }} data-testid="kprobe-replay">
      <div className={styles.row}>
        <RadioButtonGroup
          size="sm"
          value={sourceKind}
          options={[
            { label: 'Transaction', value: 'transaction' },
            { label: 'Recording', value: 'recording' },
          ]}
          onChange={(v) => setSourceKind(v === 'recording' ? 'recording' : 'transaction')}
        />
        {sourceKind === 'transaction' ? (
          <Input
            aria-label="Transaction id"
            value={transactionId}
            placeholder="transaction id"
            onChange={(e) => setTransactionId(e.currentTarget.value)}
          />
        ) : (
          <Input
            aria-label="Recording"
            value={recording}
            placeholder="recording path or id"
            onChange={(e) => setRecording(e.currentTarget.value)}
          />
        )}
      </div>

      <div className={styles.injections}>
        {drafts.map((d, i) => (
          <div className={styles.row} key={i} data-testid="kprobe-replay-injection">
            <div className={styles.kind}>
              <Select
                aria-label={`Injection ${i + 1} kind`}
                options={KINDS}
                value={d.kind}
                onChange={(v) => update(i, { kind: v.value! })}
              />
            </div>
            {d.kind === 'timeout' ? (
              <Input
                aria-label={`Injection ${i + 1} variable`}
                value={d.env ?? ''}
                placeholder="env variable"
                onChange={(e) => update(i, { env: e.currentTarget.value })}
              />
            ) : (
              <Select
                aria-label={`Injection ${i + 1} syscall`}
                options={SYSCALLS.map((s) => ({ label: s || 'any syscall', value: s }))}
                value={d.syscall ?? ''}
                onChange={(v) => update(i, { syscall: v.value })}
              />
            )}
            {d.kind !== 'timeout' && (
              <Input
                aria-label={`Injection ${i + 1} peer`}
                value={d.peer ?? ''}
                placeholder="peer host:port (any)"
                onChange={(e) => update(i, { peer: e.currentTarget.value })}
              />
            )}
            {d.kind === 'errno' ? (
              <Select
                aria-label={`Injection ${i + 1} errno`}
                options={ERRNOS.map((e) => ({ label: e, value: e }))}
                value={d.errno}
                allowCustomValue
                onChange={(v) => update(i, { errno: v.value })}
              />
            ) : (
              <Input
                aria-label={`Injection ${i + 1} milliseconds`}
                value={d.ms ?? ''}
                suffix="ms"
                onChange={(e) => update(i, { ms: e.currentTarget.value })}
              />
            )}
            <IconButton
              name="trash-alt"
              tooltip="Remove injection"
              onClick={() => setDrafts((ds) => ds.filter((_, j) => j !== i))}
            />
          </div>
        ))}
        <div className={styles.row}>
          <Button
            size="sm"
            variant="secondary"
            icon="plus"
            onClick={() => setDrafts((ds) => [...ds, { kind: 'add-latency', syscall: 'write', ms: '100' }])}
          >
            Injection
          </Button>
          <Button size="sm" icon="play" onClick={launch} disabled={busy} data-testid="kprobe-replay-launch">
            {busy ? 'Replaying…' : 'Launch replay'}
          </Button>
          {busy && session?.session_id && (
            <Button
              size="sm"
              variant="destructive"
              onClick={() =>
                client
                  .controlReplay(session.session_id!, ReplayAction.REPLAY_ACTION_CANCEL)
                  .catch((e) => setError(message(e)))
              }
            >
              Cancel
            </Button>
          )}
        </div>
      </div>

      {error && (
        <Alert title="Replay" severity="error" data-testid="kprobe-replay-error">
          {error}
        </Alert>
      )}

      {session && (
        <div className={styles.status} data-testid="kprobe-replay-status" data-state={session.state}>
          session {session.session_id} ·{' '}
          {STATE_TEXT[session.state ?? ReplayState.REPLAY_STATE_UNSPECIFIED] ?? session.state}
          {total > 0 && ` · ${done}/${total} events`}
          {progress?.message ? ` · ${progress.message}` : ''}
          <div className={styles.bar}>
            <div className={styles.fill} style={{ width: `${total > 0 ? (100 * done) / total : final ? 100 : 5}%` }} />
          </div>
        </div>
      )}

      {comparison && <Outcome comparison={comparison} session={session!} />}
    </div>
  );
}

function Outcome({ comparison, session }: { comparison: ReplayComparison; session: ReplaySession }) {
  const styles = useStyles2(getStyles);
  const o = session.progress?.outcome;
  return (
    <div data-testid="kprobe-replay-outcome" data-changed={String(comparison.changed)}>
      <div className={styles.headline}>
        {comparison.problem
          ? `No outcome: ${comparison.problem}`
          : comparison.changed
            ? `Outcome changed: ${comparison.original} → ${comparison.replay}`
            : `Same outcome: ${comparison.replay}`}
      </div>
      <div className={styles.sideBySide}>
        <div className={styles.card} data-testid="kprobe-replay-original" data-verdict={comparison.original}>
          <div className={styles.cardTitle}>Original</div>
          <div className={cx(styles.verdict, styles[comparison.original])}>{comparison.original}</div>
          {comparison.exitStatus && <div>exit status {comparison.exitStatus.original}</div>}
        </div>
        <div className={styles.card} data-testid="kprobe-replay-result" data-verdict={comparison.replay}>
          <div className={styles.cardTitle}>Replay</div>
          <div className={cx(styles.verdict, styles[comparison.replay])}>{comparison.replay}</div>
          {comparison.exitStatus && <div>exit status {comparison.exitStatus.replay}</div>}
          {o?.duration_ns && <div>replayed in {formatDuration(Number(o.duration_ns))}</div>}
          {o?.matches_recording !== undefined && (
            <div>{o.matches_recording ? 'output identical to the recording' : 'output differs from the recording'}</div>
          )}
        </div>
      </div>
      {comparison.divergence && (
        <div className={styles.divergence} data-testid="kprobe-replay-divergence">
          Diverged {comparison.divergence}
        </div>
      )}
    </div>
  );
}

function message(e: unknown): string {
  if (e instanceof ApiError || e instanceof ReplayFormError) {
    return e.message;
  }
  return String(e);
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrapper: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(1),
    padding: theme.spacing(1),
    overflowY: 'auto',
    fontSize: theme.typography.bodySmall.fontSize,
  }),
  row: css({ display: 'flex', gap: theme.spacing(1), alignItems: 'center', maxWidth: 760 }),
  kind: css({ minWidth: 140 }),
  injections: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(0.5) }),
  status: css({ color: theme.colors.text.secondary }),
  bar: css({ height: 4, background: theme.colors.background.secondary, marginTop: theme.spacing(0.5) }),
  fill: css({ height: 4, background: theme.colors.primary.main, transition: 'width 0.2s' }),
  headline: css({ fontWeight: theme.typography.fontWeightMedium, margin: theme.spacing(1, 0) }),
  sideBySide: css({ display: 'grid', gridTemplateColumns: '1fr 1fr', gap: theme.spacing(1), maxWidth: 760 }),
  card: css({
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    padding: theme.spacing(1),
  }),
  cardTitle: css({ color: theme.colors.text.secondary }),
  verdict: css({ fontSize: theme.typography.h4.fontSize, fontWeight: theme.typography.fontWeightMedium }),
  succeeded: css({ color: theme.colors.success.text }),
  failed: css({ color: theme.colors.error.text }),
  unknown: css({ color: theme.colors.text.secondary }),
  divergence: css({ marginTop: theme.spacing(1), fontFamily: theme.typography.fontFamilyMonospace }),
});
