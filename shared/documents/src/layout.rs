//! A small page-layout layer over `printpdf`: measured text (so columns align right and
//! long text wraps at word boundaries), rules, and pages that know where they end.

use printpdf::{
    Color, Line, LinePoint, Mm, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, Rgb,
    TextItem,
};

static REGULAR_TTF: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// A4 portrait, in points.
pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;
pub const MARGIN: f32 = 48.0;
/// Where content stops, leaving room for the footer.
pub const BOTTOM: f32 = MARGIN + 28.0;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

#[derive(Clone, Copy)]
pub enum Ink {
    Text,
    Muted,
    Accent,
}

impl Ink {
    fn color(self) -> Color {
        let (r, g, b) = match self {
            Ink::Text => (0.13, 0.13, 0.15),
            Ink::Muted => (0.42, 0.44, 0.48),
            Ink::Accent => (0.11, 0.30, 0.55),
        };
        Color::Rgb(Rgb {
            r,
            g,
            b,
            icc_profile: None,
        })
    }
}

/// What a page shows, recorded while laying out and written at the end, once it is known
/// which characters the document uses (each font is embedded as the subset of its glyphs
/// the document needs: a few dozen KB instead of the whole 0.7 MB face).
enum Draw {
    Text {
        text: String,
        weight: Weight,
        size: f32,
        ink: Ink,
        x: f32,
        y: f32,
    },
    Rule {
        x1: f32,
        x2: f32,
        y: f32,
        thickness: f32,
        ink: Ink,
    },
}

/// The document being laid out: the whole fonts (for measuring), the finished pages, and
/// the page being filled.
pub struct Doc {
    title: String,
    regular: &'static ParsedFont,
    bold: &'static ParsedFont,
    pages: Vec<Vec<Draw>>,
    draws: Vec<Draw>,
}

impl Doc {
    /// A new document; `None` only if the embedded fonts cannot be read (the build embedded
    /// something else: the tests render every document).
    pub fn new(title: &str) -> Option<Doc> {
        // Parsed once per process (a warm Lambda renders the next invoice without it).
        static FACES: std::sync::OnceLock<Option<(ParsedFont, ParsedFont)>> = std::sync::OnceLock::new();
        let (regular, bold) = FACES
            .get_or_init(|| {
                Some((
                    ParsedFont::from_bytes(REGULAR_TTF, 0, &mut Vec::new())?,
                    ParsedFont::from_bytes(BOLD_TTF, 0, &mut Vec::new())?,
                ))
            })
            .as_ref()?;
        Some(Doc {
            title: title.to_owned(),
            regular,
            bold,
            pages: Vec::new(),
            draws: Vec::new(),
        })
    }

    fn font(&self, w: Weight) -> &'static ParsedFont {
        match w {
            Weight::Regular => self.regular,
            Weight::Bold => self.bold,
        }
    }

    /// The width of `text` set in `w` at `size` points.
    pub fn width(&self, text: &str, w: Weight, size: f32) -> f32 {
        let font = self.font(w);
        let per_em = f32::from(font.units_per_em.max(1));
        let units: u32 = text
            .chars()
            .map(|c| {
                font.lookup_glyph_index(c as u32)
                    .and_then(|g| font.get_glyph_width(g))
                    .map_or(u32::from(font.units_per_em) / 2, u32::from)
            })
            .sum();
        units as f32 / per_em * size
    }

    /// The largest size up to `size` at which `text` fits in `room` points (never below
    /// 60 % of it: past that the text overflows rather than becoming unreadable).
    pub fn fit(&self, text: &str, w: Weight, size: f32, room: f32) -> f32 {
        let natural = self.width(text, w, size);
        if natural <= room || natural <= 0.0 {
            return size;
        }
        (size * room / natural).max(size * 0.6)
    }

    /// `text` broken into lines no wider than `room`, at spaces where it can, else
    /// mid-word; explicit newlines are kept.
    pub fn wrap(&self, text: &str, w: Weight, size: f32, room: f32) -> Vec<String> {
        let mut out = Vec::new();
        for paragraph in text.lines() {
            let mut line = String::new();
            for word in paragraph.split(' ') {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, w, size) <= room {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    out.push(std::mem::take(&mut line));
                }
                // A word longer than the room is cut where it overflows.
                let mut piece = String::new();
                for c in word.chars() {
                    piece.push(c);
                    if self.width(&piece, w, size) > room && piece.chars().count() > 1 {
                        piece.pop();
                        out.push(std::mem::take(&mut piece));
                        piece.push(c);
                    }
                }
                line = piece;
            }
            out.push(line);
        }
        if out.is_empty() {
            out.push(String::new());
        }
        out
    }

    /// `text` with its left end at `x` and its baseline `y` points from the page's top.
    pub fn text(&mut self, text: &str, weight: Weight, size: f32, ink: Ink, x: f32, y: f32) {
        if !text.is_empty() {
            self.draws.push(Draw::Text {
                text: text.to_owned(),
                weight,
                size,
                ink,
                x,
                y,
            });
        }
    }

    /// `text` with its right end at `right`.
    pub fn text_right(&mut self, text: &str, w: Weight, size: f32, ink: Ink, right: f32, y: f32) {
        let x = right - self.width(text, w, size);
        self.text(text, w, size, ink, x, y);
    }

    /// A horizontal rule from `x1` to `x2`, `y` points from the top.
    pub fn rule(&mut self, x1: f32, x2: f32, y: f32, thickness: f32, ink: Ink) {
        self.draws.push(Draw::Rule {
            x1,
            x2,
            y,
            thickness,
            ink,
        });
    }

    /// Ends the page being filled and starts another.
    pub fn new_page(&mut self) {
        let done = std::mem::take(&mut self.draws);
        self.pages.push(done);
    }

    /// Runs `footer(doc, page, of)` on every page, then writes the PDF: each font subset to
    /// the characters the pages use, then every page's text and rules.
    pub fn finish(mut self, footer: impl Fn(&mut Doc, usize, usize)) -> Option<Vec<u8>> {
        self.new_page();
        let mut pages = std::mem::take(&mut self.pages);
        let total = pages.len();
        for (i, draws) in pages.iter_mut().enumerate() {
            self.draws = std::mem::take(draws);
            footer(&mut self, i + 1, total);
            *draws = std::mem::take(&mut self.draws);
        }
        let mut pdf = PdfDocument::new(&self.title);
        let mut ids = Vec::new();
        for (weight, bytes) in [(Weight::Regular, REGULAR_TTF), (Weight::Bold, BOLD_TTF)] {
            let used = pages.iter().flatten().filter_map(|d| match d {
                Draw::Text { text, weight: w, .. } if *w == weight => Some(text.chars()),
                _ => None,
            });
            let font = subset(bytes, self.font(weight), used.flatten())?;
            ids.push((weight, pdf.add_font(&font)));
        }
        let id = |w: Weight| ids.iter().find(|(x, _)| *x == w).map(|(_, id)| id.clone());
        let mut finished = Vec::with_capacity(total);
        for draws in pages {
            let mut ops = Vec::with_capacity(draws.len() * 6);
            for d in draws {
                match d {
                    Draw::Text {
                        text,
                        weight,
                        size,
                        ink,
                        x,
                        y,
                    } => ops.extend([
                        Op::StartTextSection,
                        Op::SetFillColor { col: ink.color() },
                        Op::SetFont {
                            font: PdfFontHandle::External(id(weight)?),
                            size: Pt(size),
                        },
                        Op::SetTextCursor { pos: at(x, y) },
                        Op::ShowText {
                            items: vec![TextItem::Text(text)],
                        },
                        Op::EndTextSection,
                    ]),
                    Draw::Rule {
                        x1,
                        x2,
                        y,
                        thickness,
                        ink,
                    } => ops.extend([
                        Op::SetOutlineColor { col: ink.color() },
                        Op::SetOutlineThickness { pt: Pt(thickness) },
                        Op::DrawLine {
                            line: Line {
                                points: [x1, x2]
                                    .map(|x| LinePoint {
                                        p: at(x, y),
                                        bezier: false,
                                    })
                                    .to_vec(),
                                is_closed: false,
                            },
                        },
                    ]),
                }
            }
            finished.push(PdfPage::new(Mm::from(Pt(PAGE_WIDTH)), Mm::from(Pt(PAGE_HEIGHT)), ops));
        }
        Some(
            pdf.with_pages(finished)
                .save(&PdfSaveOptions::default(), &mut Vec::new()),
        )
    }
}

/// A point `x` from the left and `y` from the top, in PDF space (from the bottom).
fn at(x: f32, y: f32) -> Point {
    Point {
        x: Pt(x),
        y: Pt(PAGE_HEIGHT - y),
    }
}

/// The face in `bytes` cut down to the glyphs of `chars` (and .notdef), with a Unicode
/// cmap, so the PDF embeds only what it shows (`printpdf` subsets only with its layout
/// engine, which this crate leaves out).
fn subset(bytes: &[u8], whole: &ParsedFont, chars: impl Iterator<Item = char>) -> Option<ParsedFont> {
    use allsorts::binary::read::ReadScope;
    use allsorts::font_data::FontData;
    use allsorts::subset::{CmapTarget, SubsetProfile};
    let mut glyphs: Vec<u16> = chars.filter_map(|c| whole.lookup_glyph_index(c as u32)).collect();
    glyphs.push(0);
    glyphs.sort_unstable();
    glyphs.dedup();
    let data = ReadScope::new(bytes).read::<FontData<'_>>().ok()?;
    let provider = data.table_provider(0).ok()?;
    let cut = allsorts::subset::subset(&provider, &glyphs, &SubsetProfile::Minimal, CmapTarget::Unicode).ok()?;
    ParsedFont::from_bytes(&cut, 0, &mut Vec::new())
}
