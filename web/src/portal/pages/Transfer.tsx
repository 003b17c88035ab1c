/** Moves money between two of the client's own accounts (other currencies at the broker's rate). */
import { Button, Group, SimpleGrid, Stack, Text, TextInput } from '@mantine/core';
import { type FormEvent, useCallback, useState } from 'react';
import { useNavigate } from 'react-router';
import { api } from '../../api.ts';
import { ErrorAlert, Loading, PageTitle } from '../../ui/components.tsx';
import { parseMoney } from '../../ui/money.ts';
import { useAction } from '../../ui/useApi.ts';
import { AccountSelect, Section, useAccounts } from '../components.tsx';
import type { Movement } from '../types.ts';

export function TransferPage() {
  const navigate = useNavigate();
  const accounts = useAccounts();
  const [fromId, setFromId] = useState('');
  const [toId, setToId] = useState('');
  const [amount, setAmount] = useState('');
  const [amountError, setAmountError] = useState<string>();
  const transfer = useAction(
    useCallback(
      (body: { fromAccountId: string; toAccountId: string; amountMinor: number }) =>
        api.post<{ movement: Movement }>('/api/portal/transfers', body),
      [],
    ),
  );
  const from = accounts.data?.items.find((a) => a.id === fromId);
  const to = accounts.data?.items.find((a) => a.id === toId);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!from || !to) return;
    const parsed = parseMoney(amount, from.currency);
    if ('error' in parsed) {
      setAmountError(parsed.error);
      return;
    }
    setAmountError(undefined);
    const result = await transfer.run({ fromAccountId: fromId, toAccountId: toId, amountMinor: parsed.minor });
    if (result) navigate(`/movements/${result.movement.id}`);
  }

  return (
    <Stack>
      <PageTitle>Transfer between accounts</PageTitle>
      <Section title="Transfer">
        {accounts.error ? <ErrorAlert error={accounts.error} onRetry={accounts.reload} /> : null}
        {!accounts.data && accounts.loading ? <Loading /> : null}
        {accounts.data ? (
          <form onSubmit={submit} aria-label="Transfer">
            <Stack maw={640}>
              <SimpleGrid cols={{ base: 1, sm: 2 }}>
                <AccountSelect
                  accounts={accounts.data.items}
                  label="From account"
                  value={fromId}
                  onChange={setFromId}
                />
                <AccountSelect
                  accounts={accounts.data.items}
                  label="To account"
                  value={toId}
                  onChange={setToId}
                  exclude={fromId}
                />
              </SimpleGrid>
              <TextInput
                label={`Amount${from ? ` (${from.currency})` : ''}`}
                inputMode="decimal"
                placeholder="100.00"
                value={amount}
                onChange={(e) => setAmount(e.currentTarget.value)}
                error={amountError}
                required
              />
              {from && to && from.currency !== to.currency ? (
                <Text size="sm" c="dimmed">
                  The accounts are in different currencies: the amount is converted at our current rate, shown on the
                  transfer once made.
                </Text>
              ) : null}
              <ErrorAlert error={transfer.error} />
              <Group>
                <Button type="submit" loading={transfer.pending} disabled={!from || !to}>
                  Transfer
                </Button>
              </Group>
            </Stack>
          </form>
        ) : null}
      </Section>
    </Stack>
  );
}
