/** A withdrawal request: from an account, to a card or a bank account; finance reviews it before anything moves. */
import { Button, Group, Radio, Stack, Text, TextInput } from '@mantine/core';
import { type FormEvent, useCallback, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { api } from '../../api.ts';
import { ErrorAlert, Loading, PageTitle } from '../../ui/components.tsx';
import { parseMoney } from '../../ui/money.ts';
import { useAction } from '../../ui/useApi.ts';
import { AccountSelect, BalanceFacts, Section, useAccounts } from '../components.tsx';
import type { Movement } from '../types.ts';

type Destination = { type: 'card'; last4: string } | { type: 'bank_account'; iban: string };

export function WithdrawPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const accounts = useAccounts();
  const [accountId, setAccountId] = useState(params.get('account') ?? '');
  const [amount, setAmount] = useState('');
  const [amountError, setAmountError] = useState<string>();
  const [to, setTo] = useState<'card' | 'bank_account'>('card');
  const [last4, setLast4] = useState('');
  const [iban, setIban] = useState('');
  const request = useAction(
    useCallback(
      (body: { accountId: string; amountMinor: number; destination: Destination }) =>
        api.post<{ movement: Movement }>('/api/portal/withdrawals', body),
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
    const destination: Destination =
      to === 'card' ? { type: 'card', last4: last4.trim() } : { type: 'bank_account', iban };
    const result = await request.run({ accountId, amountMinor: parsed.minor, destination });
    if (result) navigate(`/movements/${result.movement.id}`);
  }

  return (
    <Stack>
      <PageTitle>Withdraw</PageTitle>
      <Section title="Ask for a withdrawal">
        {accounts.error ? <ErrorAlert error={accounts.error} onRetry={accounts.reload} /> : null}
        {!accounts.data && accounts.loading ? <Loading /> : null}
        {accounts.data ? (
          <form onSubmit={submit} aria-label="Withdrawal">
            <Stack maw={480}>
              <AccountSelect
                accounts={accounts.data.items}
                label="From account"
                value={accountId}
                onChange={setAccountId}
              />
              {account ? <BalanceFacts key={account.id} accountId={account.id} /> : null}
              <TextInput
                label={`Amount${account ? ` (${account.currency})` : ''}`}
                description="At most your free margin; bonus credit cannot be withdrawn."
                inputMode="decimal"
                placeholder="100.00"
                value={amount}
                onChange={(e) => setAmount(e.currentTarget.value)}
                error={amountError}
                required
              />
              <Radio.Group label="Pay it to" value={to} onChange={(v) => setTo(v as 'card' | 'bank_account')} required>
                <Group mt="xs">
                  <Radio value="card" label="My card" />
                  <Radio value="bank_account" label="My bank account" />
                </Group>
              </Radio.Group>
              {to === 'card' ? (
                <TextInput
                  label="Last four digits of the card"
                  inputMode="numeric"
                  maxLength={4}
                  value={last4}
                  onChange={(e) => setLast4(e.currentTarget.value)}
                  required
                />
              ) : (
                <TextInput
                  label="IBAN"
                  placeholder="CY17 0020 0128 0000 0012 0052 7600"
                  value={iban}
                  onChange={(e) => setIban(e.currentTarget.value)}
                  required
                />
              )}
              <Text size="sm" c="dimmed">
                Our finance team reviews each withdrawal; you can follow it, and cancel it until it is approved.
              </Text>
              <ErrorAlert error={request.error} />
              <Group>
                <Button type="submit" loading={request.pending} disabled={!account}>
                  Request withdrawal
                </Button>
              </Group>
            </Stack>
          </form>
        ) : null}
      </Section>
    </Stack>
  );
}
