import React, { useEffect, useMemo, useState } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { Button, Input, useStyles2 } from '@grafana/ui';

import { ApiError, KprobeClient } from '../api/client';
import { TransactionSearch } from '../components/workspace/TransactionSearch';
import { TransactionWorkspace } from '../components/workspace/TransactionWorkspace';

const TOKEN_KEY = 'kprobe.token';

/** `#/txn/<id>` shows one transaction; anything else the search. */
function route(hash: string): { transactionId?: string } {
  const m = /^#\/txn\/(.+)$/.exec(hash);
  return m ? { transactionId: decodeURIComponent(m[1]) } : {};
}

/**
 * The local console: the plugin's panels against the API that serves this
 * page (same origin), for users without Grafana.
 */
export function ConsoleApp({ timeoutEnv }: { timeoutEnv?: string }) {
  const styles = useStyles2(getStyles);
  const [hash, setHash] = useState(window.location.hash);
  const [token, setToken] = useState(() => sessionStorage.getItem(TOKEN_KEY) ?? '');
  const [tokenDraft, setTokenDraft] = useState('');
  const [needsToken, setNeedsToken] = useState(false);
  const client = useMemo(() => new KprobeClient({ baseUrl: '', token: token || undefined }), [token]);

  useEffect(() => {
    const onHash = () => setHash(window.location.hash);
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    client
      .searchTransactions({ 'page.page_size': 1 })
      .then(() => setNeedsToken(false))
      .catch((e) => setNeedsToken(e instanceof ApiError && e.status === 401));
  }, [client]);

  const { transactionId } = route(hash);
  return (
    <div className={styles.page}>
      <header className={styles.header}>
        <a className={styles.brand} href="#/">
          kprobe
        </a>
        <span className={styles.crumb}>{transactionId ? `transaction ${transactionId}` : 'transactions'}</span>
        {needsToken && (
          <form
            className={styles.token}
            onSubmit={(e) => {
              e.preventDefault();
              sessionStorage.setItem(TOKEN_KEY, tokenDraft);
              setToken(tokenDraft);
            }}
          >
            <Input
              type="password"
              width={30}
              placeholder="API token"
              value={tokenDraft}
              onChange={(e) => setTokenDraft(e.currentTarget.value)}
            />
            <Button type="submit" size="sm">
              Use token
            </Button>
          </form>
        )}
      </header>
      <main className={styles.main}>
        {transactionId ? (
          <TransactionWorkspace
            key={transactionId}
            client={client}
            transactionId={transactionId}
            timeoutEnv={timeoutEnv}
          />
        ) : (
          <TransactionSearch
            client={client}
            onOpen={(id) => (window.location.hash = `#/txn/${encodeURIComponent(id)}`)}
          />
        )}
      </main>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  page: css({ display: 'flex', flexDirection: 'column', height: '100vh', background: theme.colors.background.canvas }),
  header: css({
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(2),
    padding: theme.spacing(1, 2),
    borderBottom: `1px solid ${theme.colors.border.weak}`,
    background: theme.colors.background.primary,
  }),
  brand: css({
    fontWeight: theme.typography.fontWeightBold,
    fontSize: theme.typography.h4.fontSize,
    color: theme.colors.text.primary,
  }),
  crumb: css({ color: theme.colors.text.secondary, fontFamily: theme.typography.fontFamilyMonospace }),
  token: css({ marginLeft: 'auto', display: 'flex', gap: theme.spacing(1) }),
  main: css({ flex: 1, minHeight: 0, padding: theme.spacing(1.5), overflow: 'auto' }),
});
