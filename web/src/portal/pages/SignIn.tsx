/** Sign-in: email and password, then the authenticator code when two-factor is on. */
import { Anchor, Button, PasswordInput, Stack, Text, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { ApiError, api, errorMessage } from '../../api.ts';
import { ErrorAlert } from '../../ui/components.tsx';
import { PublicFrame } from '../components.tsx';

export function SignInPage({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [needsTotp, setNeedsTotp] = useState(false);
  const [error, setError] = useState<string>();
  const [pending, setPending] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      await api.post('/api/portal/auth/login', { email, password, ...(needsTotp ? { totp } : {}) });
      await onSignedIn();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'TOTP_REQUIRED' && !needsTotp) setNeedsTotp(true);
      else setError(errorMessage(err));
    } finally {
      setPending(false);
    }
  }

  return (
    <PublicFrame title="Sign in">
      <form onSubmit={submit} aria-label="Sign in">
        <Stack>
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
              description="Two-factor sign-in is on: enter the 6-digit code your authenticator app shows."
              inputMode="numeric"
              autoComplete="one-time-code"
              value={totp}
              onChange={(e) => setTotp(e.currentTarget.value)}
              required
              autoFocus
            />
          ) : null}
          <ErrorAlert error={error} />
          <Button type="submit" loading={pending}>
            Sign in
          </Button>
          <Text size="sm">
            New here?{' '}
            <Anchor component={Link} to="/register">
              Open a client profile
            </Anchor>
          </Text>
        </Stack>
      </form>
    </PublicFrame>
  );
}
