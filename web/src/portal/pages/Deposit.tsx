/**
 * Deposits by card: the client picks an account and an amount, goes to the payment provider's own page, and comes
 * back to `/deposits/:id` (the provider adds `status=succeeded|failed|pending`), where the deposit's timeline follows
 * it until the money is on the trading account.
 */
import { Alert, Anchor, Button, Group, Stack, Text, TextInput } from '@mantine/core';
import { type FormEvent, useCallback, useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import { api } from '../../api.ts';
import { ErrorAlert, Loading, PageTitle } from '../../ui/components.tsx';
import { parseMoney } from '../../ui/money.ts';
import { useAction, useApi } from '../../ui/useApi.ts';
import { AccountSelect, MovementView, Section, useAccounts, usePoll } from '../components.tsx';
import { type Movement, type MovementDetail, settledStatuses } from '../types.ts';

export function DepositPage() {
  const [params] = useSearchParams();
  const accounts = useAccounts();
  const [accountId, setAccountId] = useState(params.get('account') ?? '');
  const [amount, setAmount] = useState('');
  const [amountError, setAmountError] = useState<string>();
  const [leaving, setLeaving] = useState(false);
  const start = useAction(
    useCallback(
      (body: { accountId: string; amountMinor: number }) =>
        api.post<{ movement: Movement; paymentUrl: string }>('/api/portal/deposits', body),
      [],
    ),
  );
  const account = accounts.data?.items.find((a) => a.id === accountId);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!account) return;
    const parsed = parseMoney(amount, account.currency);
    if ('error' in parsed) {
      setAmountError(parsed.error);
      return;
    }
    setAmountError(undefined);
    const result = await start.run({ accountId, amountMinor: parsed.minor });
    if (result) {
      setLeaving(true);
      window.location.assign(result.paymentUrl);
    }
  }

  return (
    <Stack>
      <PageTitle>Deposit</PageTitle>
      <Section title="Deposit by card">
        {accounts.error ? <ErrorAlert error={accounts.error} onRetry={accounts.reload} /> : null}
        {!accounts.data && accounts.loading ? <Loading /> : null}
        {accounts.data ? (
          <form onSubmit={submit} aria-label="Deposit">
            <Stack maw={480}>
              <AccountSelect
                accounts={accounts.data.items}
                label="To account"
                value={accountId}
                onChange={setAccountId}
              />
              <TextInput
                label={`Amount${account ? ` (${account.currency})` : ''}`}
                inputMode="decimal"
                placeholder="250.00"
                value={amount}
                onChange={(e) => setAmount(e.currentTarget.value)}
                error={amountError}
                required
              />
              <Text size="sm" c="dimmed">
                You pay on the payment provider's secure page and come back here to follow your deposit.
              </Text>
              <ErrorAlert error={start.error} />
              {leaving ? (
                <Alert color="indigo" role="status">
                  Taking you to the payment page…
                </Alert>
              ) : null}
              <Group>
                <Button type="submit" loading={start.pending || leaving} disabled={!account}>
                  Continue to payment
                </Button>
              </Group>
            </Stack>
          </form>
        ) : null}
      </Section>
    </Stack>
  );
}

const returnWords: Record<string, { color: string; title: string; text: string }> = {
  succeeded: {
    color: 'green',
    title: 'Payment accepted',
    text: 'Your card payment went through. We are putting the money on your trading account; this page follows it.',
  },
  pending: {
    color: 'yellow',
    title: 'Payment being processed',
    text: 'The payment provider is still processing your payment. This page follows it; you may also leave and come back.',
  },
  failed: {
    color: 'red',
    title: 'Payment not accepted',
    text: 'The payment did not go through and nothing was charged. You can start a new deposit.',
  },
};

/** Where the payment page sends the client back: the deposit and its timeline, followed until it settles. */
export function DepositReturnPage() {
  const { id } = useParams();
  const [params] = useSearchParams();
  const returned = returnWords[params.get('status') ?? ''];
  const detail = useApi<MovementDetail>(`/api/portal/movements/${id}`);
  const accounts = useAccounts();
  const settled = detail.data ? settledStatuses.has(detail.data.movement.status) : false;
  usePoll(detail.reload, Boolean(detail.data) && !settled, 2000);
  return (
    <Stack>
      <PageTitle
        actions={
          <Anchor component={Link} to="/movements" size="sm">
            All money movements
          </Anchor>
        }
      >
        Your deposit
      </PageTitle>
      {returned && !settled ? (
        <Alert color={returned.color} title={returned.title} role="status">
          {returned.text}
        </Alert>
      ) : null}
      {detail.error ? <ErrorAlert error={detail.error} onRetry={detail.reload} /> : null}
      {!detail.data && detail.loading ? <Loading /> : null}
      {detail.data ? (
        <Section title="Where it is">
          <MovementView detail={detail.data} accounts={accounts.data?.items} />
          {detail.data.movement.status === 'awaiting_payment' && detail.data.movement.paymentUrl ? (
            <Button mt="md" component="a" href={detail.data.movement.paymentUrl}>
              Continue to payment
            </Button>
          ) : null}
          {detail.data.movement.status === 'payment_failed' ? (
            <Button mt="md" component={Link} to={`/deposit?account=${detail.data.movement.accountId}`} variant="light">
              Try another deposit
            </Button>
          ) : null}
        </Section>
      ) : null}
    </Stack>
  );
}
