/**
 * Back office: reconciliation. Runs (newest first, "run now"), a run's report with its breaks filtered by class and
 * a CSV export, breaks across runs, one break with what explains it and its resolution (retry with the same
 * reference, link an external change, write-off with maker-checker), and the write-offs waiting for approval.
 */
import { Breadcrumbs, Stack, Text } from '@mantine/core';
import { Route, Routes, useParams } from 'react-router';
import { To } from '../common.tsx';
import { BreakScreen } from '../control/ReconBreak.tsx';
import { BreakList, WriteOffQueue } from '../control/ReconBreaks.tsx';
import { RunDetail, RunList } from '../control/ReconRuns.tsx';

export function ReconciliationPage() {
  return (
    <Routes>
      <Route index element={<RunList />} />
      <Route path="runs/:id" element={<RunScreen />} />
      <Route path="breaks" element={<BreakList />} />
      <Route path="breaks/:id" element={<BreakRoute />} />
      <Route path="write-offs" element={<WriteOffQueue />} />
    </Routes>
  );
}

function RunScreen() {
  const { id } = useParams();
  return (
    <Stack gap="sm">
      <Breadcrumbs>
        <To to="/backoffice/reconciliation">Reconciliation</To>
        <Text size="sm">Run</Text>
      </Breadcrumbs>
      <RunDetail key={id} id={id!} />
    </Stack>
  );
}

function BreakRoute() {
  const { id } = useParams();
  return (
    <Stack gap="sm">
      <Breadcrumbs>
        <To to="/backoffice/reconciliation">Reconciliation</To>
        <To to="/backoffice/reconciliation/breaks?status=open">Breaks</To>
        <Text size="sm">Break</Text>
      </Breadcrumbs>
      <BreakScreen key={id} id={id!} />
    </Stack>
  );
}
