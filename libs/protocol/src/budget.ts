/** How long the work on one message may take, agreed by the edge (its request timeout) and relay (its deadlines). */
import type { ChatBody } from './frames';

/** Characters of the fields that can be large: what dominates the cost of carrying a message. */
export function bodyWeight(body: ChatBody): number {
  switch (body.type) {
    case 'image': return body.image_data.length;
    case 'geojson': return body.geojson.$json.length + (body.style?.length ?? 0) + body.crs_wkt.length;
    case 'model': return body.raw_xml.length;
    case 'script': return body.raw_pycode.length;
    case 'crs': case 'bbox': case 'position': return body.crs_wkt.length;
    default: return 0;
  }
}

/**
 * One publish attempt's budget: the request timeout, plus IMAGE_TIMEOUT_MS for an image (decoding and resizing run
 * under that deadline in relay), plus a second per 4 MB carried. Relay never commits a message after its budget.
 */
export function publishBudgetMs(body: ChatBody, timeouts: { requestMs: number; imageMs: number }): number {
  return timeouts.requestMs + (body.type === 'image' ? timeouts.imageMs : 0) + Math.ceil(bodyWeight(body) / 4_000_000) * 1_000;
}
