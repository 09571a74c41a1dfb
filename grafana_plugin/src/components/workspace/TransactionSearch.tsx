import React, { useCallback, useEffect, useState } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { Alert, Button, InlineField, InlineSwitch, Input, Stack, useStyles2 } from '@grafana/ui';

import { KprobeClient } from '../../api/client';
import { statusName } from '../../api/convert';
import type { TransactionSummary } from '../../api/gen/kprobe/v1/api_common';
import { formatDuration } from '../../model/ns';

export interface TransactionSearchProps {
  client: KprobeClient;
  /** Link (or handler) for opening one transaction. */
  onOpen: (transactionId: string) => void;
}

/** Find transactions by id, service, status and latency; open one. */
export function TransactionSearch({ client, onOpen }: TransactionSearchProps) {
  const styles = useStyles2(getStyles);
  const [id, setId] = useState('');
  const [service, setService] = useState('');
  const [failedOnly, setFailedOnly] = useState(false);
  const [minMs, setMinMs] = useState('');
  const [rows, setRows] = useState<TransactionSummary[]>();
  const [error, setError] = useState<string>();

  const search = useCallback(async () => {
    try {
      const r = await client.searchTransactions({
        transaction_id: id.trim() || undefined,
        services: service.trim() ? [service.trim()] : undefined,
        status: failedOnly ? 'ERROR' : undefined,
        min_latency_ns: minMs.trim() ? String(Math.round(Number(minMs) * 1e6)) : undefined,
        'page.page_size': 200,
      });
      setRows(r.transactions ?? []);
      setError(undefined);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [client, id, service, failedOnly, minMs]);

  // The latest transactions on arrival; later searches run from the form.
  useEffect(() => {
    let cancelled = false;
    client
      .searchTransactions({ 'page.page_size': 200 })
      .then((r) => !cancelled && setRows(r.transactions ?? []))
      .catch((e) => !cancelled && setError(e instanceof Error ? e.message : String(e)));
    return () => {
      cancelled = true;
    };
  }, [client]);

  return (
    <div data-testid="kprobe-search">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          search();
        }}
      >
        <Stack gap={1} wrap="wrap" alignItems="center">
          <InlineField label="Transaction">
            <Input width={26} value={id} placeholder="id" onChange={(e) => setId(e.currentTarget.value)} />
          </InlineField>
          <InlineField label="Service">
            <Input width={22} value={service} onChange={(e) => setService(e.currentTarget.value)} />
          </InlineField>
          <InlineField label="Slower than">
            <Input width={12} value={minMs} suffix="ms" onChange={(e) => setMinMs(e.currentTarget.value)} />
          </InlineField>
          <InlineField label="Failed only">
            <InlineSwitch value={failedOnly} onChange={(e) => setFailedOnly(e.currentTarget.checked)} />
          </InlineField>
          <Button type="submit" icon="search">
            Search
          </Button>
        </Stack>
      </form>
      {error && (
        <Alert title="Search" severity="error">
          {error}
        </Alert>
      )}
      {rows && (
        <table className={styles.table} data-testid="kprobe-search-results">
          <thead>
            <tr>
              <th>transaction</th>
              <th>service</th>
              <th>operation</th>
              <th>status</th>
              <th>latency</th>
              <th>kernel events</th>
              <th>started (Unix ns)</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => (
              <tr key={t.transaction_id} data-transaction-id={t.transaction_id}>
                <td>
                  <button className={styles.link} onClick={() => onOpen(t.transaction_id ?? '')}>
                    {t.transaction_id}
                  </button>
                </td>
                <td>{t.service}</td>
                <td>{t.operation}</td>
                <td className={statusName(t.status) === 'error' ? styles.error : undefined}>
                  {statusName(t.status)}
                  {t.status_message ? ` — ${t.status_message}` : ''}
                </td>
                <td>{formatDuration(Number(t.duration_ns ?? 0))}</td>
                <td>{t.kernel_event_count ?? 0}</td>
                <td className={styles.mono}>{t.start_ns}</td>
              </tr>
            ))}
            {rows.length === 0 && (
              <tr>
                <td colSpan={7}>No transactions match.</td>
              </tr>
            )}
          </tbody>
        </table>
      )}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  table: css({
    width: '100%',
    marginTop: theme.spacing(2),
    borderCollapse: 'collapse',
    'th, td': {
      textAlign: 'left',
      padding: theme.spacing(0.5, 1),
      borderBottom: `1px solid ${theme.colors.border.weak}`,
    },
    th: { color: theme.colors.text.secondary, fontWeight: theme.typography.fontWeightMedium },
  }),
  link: css({
    background: 'none',
    border: 'none',
    padding: 0,
    color: theme.colors.text.link,
    cursor: 'pointer',
    fontFamily: theme.typography.fontFamilyMonospace,
  }),
  error: css({ color: theme.colors.error.text }),
  mono: css({ fontFamily: theme.typography.fontFamilyMonospace }),
});
