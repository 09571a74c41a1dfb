import React from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { AppRootProps } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';

import { useKprobeClient } from '../api/ClientContext';
import { TransactionSearch } from '../components/workspace/TransactionSearch';
import { TransactionWorkspace } from '../components/workspace/TransactionWorkspace';
import { AppSettings, PLUGIN_BASE_URL, ROUTES } from '../constants';

/** Search → one transaction's graph, timeline and replay. */
export function TransactionsPage({ meta }: Pick<AppRootProps<AppSettings>, 'meta'>) {
  const client = useKprobeClient();
  const navigate = useNavigate();
  const { id } = useParams();
  return (
    <PluginPage>
      {id ? (
        <TransactionWorkspace client={client} transactionId={id} timeoutEnv={meta.jsonData?.timeoutEnv} />
      ) : (
        <TransactionSearch
          client={client}
          onOpen={(txn) => navigate(`${PLUGIN_BASE_URL}/${ROUTES.Transactions}/${encodeURIComponent(txn)}`)}
        />
      )}
    </PluginPage>
  );
}
