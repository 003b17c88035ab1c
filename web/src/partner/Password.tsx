/** Change the password (the API signs out every other session and keeps this one). */
import { Button, Paper, PasswordInput, Stack, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type FormEvent, useState } from 'react';
import { api } from '../api.ts';
import { ErrorAlert, PageTitle } from '../ui/components.tsx';
import { useAction } from '../ui/useApi.ts';

export function PasswordScreen() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [mismatch, setMismatch] = useState<string>();
  const action = useAction((body: { currentPassword: string; newPassword: string }) =>
    api.post<{ changed: boolean }>('/api/partner/auth/password', body),
  );

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (next !== repeat) {
      setMismatch('The two new passwords are not the same');
      return;
    }
    setMismatch(undefined);
    if (await action.run({ currentPassword: current, newPassword: next })) {
      setCurrent('');
      setNext('');
      setRepeat('');
      notifications.show({
        color: 'teal',
        title: 'Password changed',
        message: 'Your other sessions were signed out.',
      });
    }
  }

  return (
    <Stack gap="md" maw={480}>
      <PageTitle>Password</PageTitle>
      <Paper withBorder p="md">
        <form onSubmit={submit}>
          <Stack gap="sm">
            <Text size="sm" c="dimmed">
              At least 10 characters. Changing it signs you out everywhere else.
            </Text>
            <PasswordInput
              label="Current password"
              autoComplete="current-password"
              value={current}
              onChange={(e) => setCurrent(e.currentTarget.value)}
              required
            />
            <PasswordInput
              label="New password"
              autoComplete="new-password"
              value={next}
              onChange={(e) => setNext(e.currentTarget.value)}
              required
            />
            <PasswordInput
              label="New password again"
              autoComplete="new-password"
              value={repeat}
              onChange={(e) => setRepeat(e.currentTarget.value)}
              error={mismatch}
              required
            />
            <ErrorAlert error={action.error} />
            <Button type="submit" loading={action.pending}>
              Change password
            </Button>
          </Stack>
        </form>
      </Paper>
    </Stack>
  );
}
