import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';

import { KprobeClient } from '../../api/client';
import { ReplayView } from './ReplayView';

// No request leaves the form while it is invalid: the client points nowhere on purpose.
const client = new KprobeClient({ baseUrl: 'http://127.0.0.1:9' });

describe('ReplayView', () => {
  it('starts from the transaction it is given and a raised-timeout injection', () => {
    render(
      <ReplayView client={client} transactionId="pay-98721" timeoutEnv="PAYMENT_TIMEOUT_MS" width={700} height={400} />
    );
    expect(screen.getByRole('textbox', { name: 'Transaction id' })).toHaveValue('pay-98721');
    expect(screen.getByRole('textbox', { name: 'Injection 1 variable' })).toHaveValue('PAYMENT_TIMEOUT_MS');
    expect(screen.getByRole('textbox', { name: 'Injection 1 milliseconds' })).toHaveValue('1500');
  });

  it('says in one line what is wrong instead of launching', () => {
    render(<ReplayView client={client} width={700} height={400} />);
    fireEvent.click(screen.getByTestId('kprobe-replay-launch'));
    expect(screen.getByTestId('kprobe-replay-error')).toHaveTextContent(
      'choose a transaction or a recording to replay'
    );
    fireEvent.change(screen.getByRole('textbox', { name: 'Transaction id' }), { target: { value: 'pay-1' } });
    fireEvent.change(screen.getByRole('textbox', { name: 'Injection 1 milliseconds' }), { target: { value: 'later' } });
    fireEvent.click(screen.getByTestId('kprobe-replay-launch'));
    expect(screen.getByTestId('kprobe-replay-error')).toHaveTextContent(
      'injection 1 (timeout): milliseconds must be a number'
    );
    expect(screen.queryByTestId('kprobe-replay-status')).toBeNull();
  });
});
