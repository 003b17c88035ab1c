/** The signed-in partner (as /api/partner/me answers) and sign-out, for every screen of the partner area. */
import { createContext, useContext } from 'react';

export interface PartnerMe {
  id: string;
  email: string;
  name: string;
  referralCode: string;
  referralLink: string;
}

export interface PartnerAuth {
  me: PartnerMe;
  signOut(): Promise<void>;
}

export const PartnerAuthContext = createContext<PartnerAuth | null>(null);

export function usePartner(): PartnerAuth {
  const auth = useContext(PartnerAuthContext);
  if (!auth) throw new Error('usePartner outside the partner area');
  return auth;
}
