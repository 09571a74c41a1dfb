import React from 'react';
import { Route, Routes } from 'react-router-dom';
import { AppRootProps } from '@grafana/data';

import { AppSettings, ROUTES } from '../../constants';
import { TransactionsPage } from '../../pages/TransactionsPage';

function App(props: AppRootProps<AppSettings>) {
  return (
    <Routes>
      <Route path={`${ROUTES.Transactions}/:id`} element={<TransactionsPage meta={props.meta} />} />
      <Route path="*" element={<TransactionsPage meta={props.meta} />} />
    </Routes>
  );
}

export default App;
