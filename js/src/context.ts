// What the host (anywidget, a standalone page, a test) gives a view besides its model and
// element. Its own module, so that a view needs no import of the registry that lists it.

import type { Invoke } from "./invoke";

export interface ViewContext {
  /** Request / response with the kernel (or the page's stand-in for it). */
  invoke?: Invoke;
  /** Draw points with Canvas2D even where WebGL2 exists (tests, benchmarks). */
  forceCanvas2d?: boolean;
  /** false in pages with no kernel (`to_html`): views leave out controls only Python answers. */
  kernel?: boolean;
}
