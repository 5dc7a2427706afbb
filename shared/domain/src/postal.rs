//! Postal codes: whether a code has the shape its country uses, for the 50 largest
//! economies (by GDP) and a few more. A documented table of masks rather than a crate: the
//! maintained crates cover a handful of countries. In a mask `9` is a digit, `A` a letter,
//! `X` either, anything else itself; codes are compared upper-cased, without spaces.
//! Countries without postal codes accept none (or anything short); a country not in the
//! table accepts 2-10 letters, digits and dashes, since its shape is unknown here.

/// (ISO 3166-1 alpha-2, masks). Countries with no postal code system have no masks.
const MASKS: &[(&str, &[&str])] = &[
    ("US", &["99999", "99999-9999"]),
    ("CN", &["999999"]),
    ("DE", &["99999"]),
    ("JP", &["999-9999", "9999999"]),
    ("IN", &["999999"]),
    ("GB", &["A99AA", "A999AA", "AA99AA", "AA999AA", "A9A9AA", "AA9A9AA"]),
    ("FR", &["99999"]),
    ("IT", &["99999"]),
    ("BR", &["99999-999", "99999999"]),
    ("CA", &["A9A9A9"]),
    ("RU", &["999999"]),
    ("MX", &["99999"]),
    ("AU", &["9999"]),
    ("KR", &["99999"]),
    ("ES", &["99999"]),
    ("ID", &["99999"]),
    ("NL", &["9999AA"]),
    ("TR", &["99999"]),
    ("SA", &["99999", "99999-9999"]),
    ("CH", &["9999"]),
    ("PL", &["99-999"]),
    ("TW", &["999", "99999", "999999"]),
    ("BE", &["9999"]),
    ("SE", &["99999"]),
    ("IE", &["A99XXXX", "A9WXXXX"]),
    ("AR", &["9999", "A9999AAA"]),
    ("AE", &[]),
    ("SG", &["999999"]),
    ("IL", &["99999", "9999999"]),
    ("AT", &["9999"]),
    ("TH", &["99999"]),
    ("NO", &["9999"]),
    ("PH", &["9999"]),
    ("VN", &["999999", "99999"]),
    ("BD", &["9999"]),
    ("MY", &["99999"]),
    ("DK", &["9999"]),
    ("CO", &["999999"]),
    ("HK", &[]),
    ("ZA", &["9999"]),
    ("EG", &["99999"]),
    ("CL", &["9999999"]),
    ("RO", &["999999"]),
    ("CZ", &["99999"]),
    ("FI", &["99999"]),
    ("PT", &["9999-999"]),
    ("NZ", &["9999"]),
    ("PE", &["99999"]),
    ("GR", &["99999"]),
    ("HU", &["9999"]),
    ("UA", &["99999"]),
    ("NG", &["999999"]),
    ("PK", &["99999"]),
    ("KZ", &["999999", "A99A9A9"]),
    ("QA", &[]),
    ("LU", &["9999", "L-9999"]),
];

/// Whether `code` is a postal code of `country` (ISO 3166-1 alpha-2, any case).
pub fn valid(country: &str, code: &str) -> bool {
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect();
    let country = country.trim().to_ascii_uppercase();
    match MASKS.iter().find(|(c, _)| *c == country) {
        // No postal codes there: none is fine, and so is a placeholder.
        Some((_, [])) => code.len() <= 10,
        Some((_, masks)) => masks.iter().any(|m| fits(m, &code)),
        None => (2..=10).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
    }
}

fn fits(mask: &str, code: &str) -> bool {
    mask.chars().count() == code.chars().count()
        && mask.chars().zip(code.chars()).all(|(m, c)| match m {
            '9' => c.is_ascii_digit(),
            'A' => c.is_ascii_uppercase(),
            'X' => c.is_ascii_alphanumeric(),
            other => other == c,
        })
}

/// Whether the table knows `country`'s postal code shape.
pub fn known(country: &str) -> bool {
    MASKS.iter().any(|(c, _)| c.eq_ignore_ascii_case(country.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_the_largest_economies() {
        for (country, good, bad) in [
            ("US", "94107-1234", "9410"),
            ("us", "10001", "ABCDE"),
            ("GB", "SW1A 1AA", "SW1A1A"),
            ("GB", "m1 1ae", "1M1 1AE"),
            ("CA", "K1A 0B1", "K1A 0B"),
            ("DE", "10115", "1011"),
            ("NL", "1012 JS", "1012 J5"),
            ("JP", "100-0001", "100-001"),
            ("BR", "01310-100", "0131-100"),
            ("PL", "00-950", "00950"),
            ("IE", "D02 X285", "D02"),
            ("PT", "1000-001", "1000"),
        ] {
            assert!(valid(country, good), "{country} {good}");
            assert!(!valid(country, bad), "{country} {bad}");
        }
        assert!(valid("AE", ""), "no postal codes in the UAE");
        assert!(valid("ZZ", "AB-123"), "an unknown country: a plausible code");
        assert!(!valid("ZZ", "<script>"));
        assert!(MASKS.len() >= 50 && known("KR"));
    }
}
