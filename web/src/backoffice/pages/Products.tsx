/** Back office: Products. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function ProductsPage() {
  return (
    <>
      <PageTitle>Products</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}
