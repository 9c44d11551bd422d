/**
 * The messages between a dashboard's note field and the lab extension, and the Python that saves a note:
 * plain functions (no JupyterLab imports), unit-tested with Jest (test/noteRequest.test.ts).
 */
export interface INoteRequest {
  type: 'fmprofile:note';
  id: string;
  run: string;
  path: string | null;
  text: string;
  start_ms: number | null;
  end_ms: number | null;
}

export interface INoteAnswer {
  type: 'fmprofile:note-saved';
  id: string;
  ok: boolean;
  message: string;
}

export function isNoteRequest(data: unknown): data is INoteRequest {
  const d = data as Partial<INoteRequest> | null;
  return (
    !!d &&
    d.type === 'fmprofile:note' &&
    typeof d.id === 'string' &&
    typeof d.run === 'string' &&
    typeof d.text === 'string' &&
    (d.start_ms === null || typeof d.start_ms === 'number') &&
    (d.end_ms === null || typeof d.end_ms === 'number')
  );
}

/** Python that saves the note: the request travels as base64 of its JSON, so no text can break out. */
export function noteCode(request: INoteRequest): string {
  const payload = JSON.stringify({
    run: request.run,
    path: request.path ?? null,
    text: request.text,
    start_ms: request.start_ms,
    end_ms: request.end_ms
  });
  const bytes = new TextEncoder().encode(payload);
  let binary = '';
  bytes.forEach(b => (binary += String.fromCharCode(b)));
  return `__import__('workbench.saved.notes', fromlist=['note_from_dashboard']).note_from_dashboard('${btoa(binary)}')`;
}

/** The store folder of a report page served by the server extension (`.../fmprofile/api/runs/ID/report?path=`). */
export function reportFolder(src: string, base: string): string | null {
  try {
    const url = new URL(src, base);
    return url.pathname.includes('/fmprofile/api/runs/') ? url.searchParams.get('path') : null;
  } catch {
    return null;
  }
}
