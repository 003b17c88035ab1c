/** Identity documents: the verification status, an upload (PDF, JPEG or PNG), and each document with its review. */
import { Anchor, Button, Group, Input, NativeSelect, Stack, Table, Text } from '@mantine/core';
import { type FormEvent, useCallback, useId, useRef, useState } from 'react';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useClient } from '../auth.tsx';
import { Section } from '../components.tsx';
import type { KycDocument } from '../types.ts';
import { kycWords } from './Overview.tsx';

const documentTypes = [
  { value: 'passport', label: 'Passport' },
  { value: 'id_card', label: 'Identity card' },
  { value: 'driving_licence', label: 'Driving licence' },
  { value: 'proof_of_address', label: 'Proof of address (utility bill, bank statement)' },
  { value: 'selfie', label: 'Selfie holding your document' },
  { value: 'other', label: 'Other' },
];
const typeName = new Map(documentTypes.map((t) => [t.value, t.label]));

interface DocumentList {
  kycStatus: string;
  kycExpiresAt: string | null;
  items: KycDocument[];
}

export function DocumentsPage() {
  const { reload: reloadMe } = useClient();
  const docs = useApi<DocumentList>('/api/portal/kyc/documents');
  return (
    <Stack>
      <PageTitle>Documents</PageTitle>
      <Section title="Identity verification" actions={docs.data ? <StatusBadge status={docs.data.kycStatus} /> : null}>
        {docs.data ? (
          <Stack gap={4}>
            <Text size="sm">{kycWords[docs.data.kycStatus] ?? docs.data.kycStatus}</Text>
            {docs.data.kycExpiresAt ? (
              <Text size="sm" c="dimmed">
                Valid until <DateTime value={docs.data.kycExpiresAt} />
              </Text>
            ) : null}
          </Stack>
        ) : null}
      </Section>
      <Upload
        onUploaded={() => {
          docs.reload();
          void reloadMe();
        }}
      />
      <Section title="Your documents">
        {docs.error ? <ErrorAlert error={docs.error} onRetry={docs.reload} /> : null}
        {!docs.data && docs.loading ? <Loading /> : null}
        {docs.data && docs.data.items.length === 0 ? <Empty>No document uploaded yet.</Empty> : null}
        {docs.data?.items.length ? (
          <Table.ScrollContainer minWidth={340}>
            <Table striped aria-label="Your documents">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Document</Table.Th>
                  <Table.Th>Review</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {docs.data.items.map((d) => (
                  <Table.Tr key={d.id}>
                    <Table.Td>
                      <Text size="sm">{typeName.get(d.type) ?? d.type}</Text>
                      <Anchor
                        href={`/api/portal/kyc/documents/${d.id}/file`}
                        download={d.originalName}
                        size="sm"
                        style={{ wordBreak: 'break-all' }}
                      >
                        {d.originalName}
                      </Anchor>
                      <Text size="xs" c="dimmed">
                        {Math.max(1, Math.round(d.sizeBytes / 1024))} KB · uploaded <DateTime value={d.uploadedAt} />
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <StatusBadge status={d.status} />
                      {d.reviewNote ? (
                        <Text size="xs" c="dimmed">
                          {d.reviewNote}
                        </Text>
                      ) : null}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        ) : null}
      </Section>
    </Stack>
  );
}

function Upload({ onUploaded }: { onUploaded: () => void }) {
  const [type, setType] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [done, setDone] = useState<string>();
  const input = useRef<HTMLInputElement>(null);
  const fileId = useId();
  const upload = useAction(
    useCallback((form: FormData) => api.upload<{ document: KycDocument }>('/api/portal/kyc/documents', form), []),
  );

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!file || !type) return;
    const form = new FormData();
    form.append('type', type);
    form.append('file', file, file.name);
    const result = await upload.run(form);
    if (result) {
      setDone(`${typeName.get(type) ?? type} uploaded: our compliance team will review it.`);
      setType('');
      setFile(null);
      if (input.current) input.current.value = '';
      onUploaded();
    }
  }

  return (
    <Section title="Upload a document">
      <form onSubmit={submit} aria-label="Upload a document">
        <Stack maw={520}>
          <NativeSelect
            label="Document type"
            value={type}
            onChange={(e) => {
              setType(e.currentTarget.value);
              setDone(undefined);
            }}
            data={[{ value: '', label: 'Choose the kind of document' }, ...documentTypes]}
            required
          />
          <Input.Wrapper
            label="File"
            description="A PDF, JPEG or PNG of the whole document, up to 10 MB."
            required
            id={fileId}
          >
            <input
              id={fileId}
              ref={input}
              type="file"
              accept="application/pdf,image/jpeg,image/png"
              required
              onChange={(e) => {
                setFile(e.currentTarget.files?.[0] ?? null);
                setDone(undefined);
              }}
              style={{ display: 'block', marginTop: 6, maxWidth: '100%' }}
            />
          </Input.Wrapper>
          {done ? (
            <Text size="sm" c="green" role="status">
              {done}
            </Text>
          ) : null}
          <ErrorAlert error={upload.error} />
          <Group>
            <Button type="submit" loading={upload.pending} disabled={!file || !type}>
              Upload
            </Button>
          </Group>
        </Stack>
      </form>
    </Section>
  );
}
