/**
 * Back office: partners (introducing brokers). The list, the IB payout queue, and one partner with its tree,
 * clients, server logins, plan, commission and payouts.
 */
import { Route, Routes } from 'react-router';
import { PartnerDetail } from '../partners/PartnerDetail.tsx';
import { PartnerList } from '../partners/PartnerList.tsx';
import { PayoutQueue } from '../partners/PayoutQueue.tsx';

export function PartnersPage() {
  return (
    <Routes>
      <Route index element={<PartnerList />} />
      <Route path="payouts" element={<PayoutQueue />} />
      <Route path=":id" element={<PartnerDetail />} />
      <Route path=":id/:tab" element={<PartnerDetail />} />
    </Routes>
  );
}
