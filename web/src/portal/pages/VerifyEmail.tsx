/** The link from the verification email: confirms the address once, whether or not the client is signed in. */
import { Alert, Button, Stack } from '@mantine/core';
import { useEffect, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, errorMessage } from '../../api.ts';
import { ErrorAlert, Loading } from '../../ui/components.tsx';
import { PublicFrame } from '../components.tsx';

export function VerifyEmailPage({ signedIn, onVerified }: { signedIn: boolean; onVerified: () => Promise<void> }) {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [state, setState] = useState<{ done: boolean; error?: string }>({ done: false });
  // Once per token, even when React runs effects twice in development: a used link cannot be used again.
  const tried = useRef<string>(null);

  useEffect(() => {
    if (tried.current === token) return;
    tried.current = token;
    if (!token) {
      setState({ done: true, error: 'This link has no verification token; open the link from the email again.' });
      return;
    }
    api
      .post('/api/portal/auth/verify-email', { token })
      .then(async () => {
        setState({ done: true });
        await onVerified();
      })
      .catch((err: unknown) => setState({ done: true, error: errorMessage(err) }));
  }, [token, onVerified]);

  return (
    <PublicFrame title="Email verification">
      {!state.done ? (
        <Loading label="Checking your link…" />
      ) : (
        <Stack>
          {state.error ? (
            <ErrorAlert error={state.error} />
          ) : (
            <Alert color="green" role="status" title="Email address confirmed">
              Thank you: your email address is verified. You can now open live trading accounts.
            </Alert>
          )}
          <Button component={Link} to="/">
            {signedIn ? 'Go to my portal' : 'Sign in'}
          </Button>
        </Stack>
      )}
    </PublicFrame>
  );
}
