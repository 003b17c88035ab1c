/** Back office: Partners. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function PartnersPage() {
  return (
    <>
      <PageTitle>Partners</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}
