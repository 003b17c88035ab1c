/** Staff sign-in: password, then the authenticator code when enrolled; roles that need two-factor enrol here first. */
import { Alert, Button, Center, Code, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { ApiError, api, errorMessage } from '../api.ts';

export function StaffLogin({ onSignedIn }: { onSignedIn: () => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [needsTotp, setNeedsTotp] = useState(false);
  const [error, setError] = useState<string>();
  const [pending, setPending] = useState(false);
  const [enrolment, setEnrolment] = useState<{ secret: string; uri: string } | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      const result = await api.post<{ twoFactorEnrolmentRequired: boolean }>('/api/backoffice/auth/login', {
        email,
        password,
        ...(needsTotp ? { totp } : {}),
      });
      if (result.twoFactorEnrolmentRequired) {
        setEnrolment(await api.post<{ secret: string; uri: string }>('/api/backoffice/auth/totp/setup'));
      } else {
        onSignedIn();
      }
    } catch (err) {
      if (err instanceof ApiError && err.code === 'TOTP_REQUIRED' && !needsTotp) setNeedsTotp(true);
      else setError(errorMessage(err));
    } finally {
      setPending(false);
    }
  }

  async function confirm(event: FormEvent) {
    event.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      await api.post('/api/backoffice/auth/totp/confirm', { code: totp });
      onSignedIn();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setPending(false);
    }
  }

  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="sm" p="xl" w={420} maw="100%">
        {enrolment ? (
          <form onSubmit={confirm}>
            <Stack>
              <Title order={2}>Set up two-factor sign-in</Title>
              <Text size="sm">
                Your role moves money or changes configuration, so it needs an authenticator app. Add this key to it,
                then enter the six-digit code it shows.
              </Text>
              <Code block data-testid="totp-secret">
                {enrolment.secret}
              </Code>
              <Text size="xs" c="dimmed" style={{ wordBreak: 'break-all' }}>
                {enrolment.uri}
              </Text>
              <TextInput
                label="Code from the app"
                inputMode="numeric"
                autoComplete="one-time-code"
                value={totp}
                onChange={(e) => setTotp(e.currentTarget.value)}
                required
              />
              {error ? <Alert color="red">{error}</Alert> : null}
              <Button type="submit" loading={pending}>
                Confirm
              </Button>
            </Stack>
          </form>
        ) : (
          <form onSubmit={submit}>
            <Stack>
              <Title order={2}>Back office sign-in</Title>
              <TextInput
                label="Email"
                type="email"
                autoComplete="username"
                value={email}
                onChange={(e) => setEmail(e.currentTarget.value)}
                required
              />
              <PasswordInput
                label="Password"
                autoComplete="current-password"
                value={password}
                onChange={(e) => setPassword(e.currentTarget.value)}
                required
              />
              {needsTotp ? (
                <TextInput
                  label="Authenticator code"
                  inputMode="numeric"
                  autoComplete="one-time-code"
                  value={totp}
                  onChange={(e) => setTotp(e.currentTarget.value)}
                  required
                />
              ) : null}
              {error ? (
                <Alert color="red" role="alert">
                  {error}
                </Alert>
              ) : null}
              <Button type="submit" loading={pending}>
                Sign in
              </Button>
            </Stack>
          </form>
        )}
      </Paper>
    </Center>
  );
}
