/**
 * What a KYC file really is, from its first bytes: only PDF, JPEG and PNG are accepted, whatever the upload's name or
 * declared content type say. A three-signature check is all this needs, so no dependency (file-type ≥ 22 needs
 * Node 22, and older majors would be a large dependency for three magic numbers).
 */

export const allowedKycContentTypes = ['application/pdf', 'image/jpeg', 'image/png'] as const;
export type KycContentType = (typeof allowedKycContentTypes)[number];

export const extensionOf: Record<KycContentType, string> = {
  'application/pdf': 'pdf',
  'image/jpeg': 'jpg',
  'image/png': 'png',
};

const startsWith = (bytes: Uint8Array, signature: readonly number[], at = 0) =>
  bytes.length >= at + signature.length && signature.every((b, i) => bytes[at + i] === b);

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff];
const PDF = [0x25, 0x50, 0x44, 0x46, 0x2d]; // %PDF-

/** The allowed type the content matches, or null. */
export function sniffKycContentType(bytes: Uint8Array): KycContentType | null {
  // PNG: the signature followed by the IHDR chunk, which must come first.
  if (startsWith(bytes, PNG) && startsWith(bytes, [0x49, 0x48, 0x44, 0x52], 12)) return 'image/png';
  // JPEG: SOI then a marker (APPn, DQT, SOF…).
  if (startsWith(bytes, JPEG) && bytes.length >= 4) return 'image/jpeg';
  // PDF: readers accept the header within the first 1024 bytes, which hides other content in front of it; we do not.
  if (startsWith(bytes, PDF)) return 'application/pdf';
  return null;
}

/** A human description of common content that is not allowed, for the error message. */
export function describeContent(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.subarray(0, 512)).toString('latin1').trimStart().toLowerCase();
  if (startsWith(bytes, [0x4d, 0x5a])) return 'a Windows program';
  if (startsWith(bytes, [0x7f, 0x45, 0x4c, 0x46])) return 'a Linux program';
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return 'a ZIP archive or office document';
  if (startsWith(bytes, [0x47, 0x49, 0x46, 0x38])) return 'a GIF image';
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8))
    return 'a WebP image';
  if (head.startsWith('<!doctype html') || head.startsWith('<html') || head.includes('<script')) return 'an HTML page';
  if (head.startsWith('<?xml') || head.startsWith('<svg')) return 'an XML or SVG document';
  return 'an unrecognised format';
}
