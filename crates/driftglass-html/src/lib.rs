//! Driftglass's presentation shared by the page and the CLI: the plots as SVG documents and the
//! self-contained HTML report. Strings in, strings out: no DOM, no statistics (the numbers come
//! from `driftglass-core`'s report).

pub mod headline;
pub mod report;
pub mod svg;

pub use report::{HtmlOptions, Thumbnail, html_report};
