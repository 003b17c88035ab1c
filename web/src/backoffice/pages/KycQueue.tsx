/** Back office: KYC queue. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function KycQueuePage() {
  return (
    <>
      <PageTitle>KYC queue</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}
