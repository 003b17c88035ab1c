/** The signed-in client (as `/api/portal/me` describes them), a way to reload it, and sign-out, for every portal screen. */
import { createContext, useContext } from 'react';

export interface ClientMe {
  client: {
    id: string;
    email: string;
    name: string;
    country: string;
    phone: string | null;
    status: string;
    kycStatus: string;
    kycExpiresAt: string | null;
    totpEnabled: boolean;
    createdAt: string;
  };
  emailVerified: boolean;
}

export interface ClientAuth {
  me: ClientMe;
  reload(): Promise<void>;
  signOut(): Promise<void>;
}

export const ClientAuthContext = createContext<ClientAuth | null>(null);

export function useClient(): ClientAuth {
  const auth = useContext(ClientAuthContext);
  if (!auth) throw new Error('useClient outside the client portal');
  return auth;
}
