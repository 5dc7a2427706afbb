//! Documents people read, rendered in-process with nothing fetched at run time: the
//! invoice PDF ([`invoice::render`]), laid out here on `printpdf`'s page description with
//! DejaVu Sans (regular and bold) embedded at build time and subset into each PDF.

pub mod invoice;
mod layout;

/// The invoice renderer as the domain's [`oms_domain::ports::Documents`] port: what the
/// receipts worker attaches to an invoice e-mail.
pub struct InvoiceDocuments;

impl oms_domain::ports::Documents for InvoiceDocuments {
    fn invoice(
        &self,
        order: &oms_domain::order::Order,
        settings: &oms_domain::settings::CompanySettings,
    ) -> Result<Vec<u8>, oms_domain::error::Error> {
        invoice::render(order, &invoice::Issuer::of(settings))
    }
}
