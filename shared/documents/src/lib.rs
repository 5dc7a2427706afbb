//! Documents people read, rendered in-process with nothing fetched at run time: the
//! invoice PDF ([`invoice::render`]), laid out here on `printpdf`'s page description with
//! DejaVu Sans (regular and bold) embedded at build time and subset into each PDF.

pub mod invoice;
mod layout;
