//! What the office publishes on the municipality's public pages: news (with the days they are
//! visible) and documents (regulation, tariffs, privacy notice, forms, menus). Uploads are
//! checked by size, by extension and by their first bytes, so a file is what its name says.
//! Every publication and removal is audited.

use jiff::civil::Date;
use refettorio_db::audit;
use refettorio_db::content::{self, NewDocument, NewNews};
use refettorio_db::registry::calendar;
use refettorio_domain::{
    AuditAction, AuditEntry, AuditObject, ClassId, DayStatus, FamilyId, ObjectKind, SchoolId, today,
};

use crate::{AppError, Ctx, FieldError};

/// News and documents as the pages list them.
pub use refettorio_db::content::{DocumentInfo, News, NewsItem};

/// The largest document the office may upload.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// The categories of public documents, with their Italian labels.
pub const CATEGORIES: [(&str, &str); 5] = [
    ("regolamento", "Regolamento"),
    ("tariffe", "Tariffe"),
    ("privacy", "Informativa privacy"),
    ("moduli", "Moduli"),
    ("menu", "Menù"),
];

/// The category of menus, which the kitchen publishes too.
pub const MENU: &str = "menu";

/// The label of a category ("Documento" for one without).
pub fn category_label(key: &str) -> &'static str {
    CATEGORIES
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("Documento", |(_, l)| l)
}

/// The file types accepted: extension, content type, and how the content must begin.
const TYPES: [(&str, &str, Magic); 9] = [
    ("pdf", "application/pdf", Magic::Prefix(b"%PDF-")),
    ("png", "image/png", Magic::Prefix(b"\x89PNG\r\n\x1a\n")),
    ("jpg", "image/jpeg", Magic::Prefix(b"\xff\xd8\xff")),
    ("jpeg", "image/jpeg", Magic::Prefix(b"\xff\xd8\xff")),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Magic::Prefix(b"PK\x03\x04"),
    ),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Magic::Prefix(b"PK\x03\x04"),
    ),
    (
        "odt",
        "application/vnd.oasis.opendocument.text",
        Magic::Prefix(b"PK\x03\x04"),
    ),
    (
        "ods",
        "application/vnd.oasis.opendocument.spreadsheet",
        Magic::Prefix(b"PK\x03\x04"),
    ),
    ("txt", "text/plain; charset=utf-8", Magic::Text),
];

#[derive(Debug, Clone, Copy)]
enum Magic {
    Prefix(&'static [u8]),
    /// UTF-8 text without NUL bytes.
    Text,
}

impl Magic {
    fn matches(self, bytes: &[u8]) -> bool {
        match self {
            Magic::Prefix(p) => bytes.starts_with(p),
            Magic::Text => !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok(),
        }
    }
}

/// What the page tells the office about uploads.
pub fn allowed_types_it() -> &'static str {
    "PDF, immagini JPG o PNG, documenti Word o OpenDocument, fogli Excel o OpenDocument, testo; al massimo 10 MB"
}

/// A safe download name: the last path component, accented letters without their accent,
/// anything but letters, digits, `.`, `-`, `_` as one `-`; at most 100 characters.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
    let mut out = String::with_capacity(base.len());
    for c in base.chars() {
        let c = match c {
            'à' | 'á' | 'â' | 'ä' => 'a',
            'À' | 'Á' | 'Â' | 'Ä' => 'A',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'È' | 'É' | 'Ê' | 'Ë' => 'E',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
            'ò' | 'ó' | 'ô' | 'ö' => 'o',
            'Ò' | 'Ó' | 'Ô' | 'Ö' => 'O',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '_') => c,
            _ => '-',
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let trimmed = out.trim_matches(['-', '.']);
    let skip = trimmed.chars().count().saturating_sub(100);
    trimmed.chars().skip(skip).collect()
}

/// The content type of an upload, if its name and its content agree on an accepted type.
pub fn check_file(file_name: &str, bytes: &[u8]) -> Result<(String, &'static str), &'static str> {
    if file_name.trim().is_empty() {
        return Err("Scegli il file da pubblicare.");
    }
    if bytes.is_empty() {
        return Err("Il file è vuoto.");
    }
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err("Il file è troppo grande: al massimo 10 MB.");
    }
    let name = clean_name(file_name);
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let Some((_, content_type, magic)) = TYPES.iter().find(|(e, _, _)| *e == ext) else {
        return Err(
            "Tipo di file non ammesso: pubblica un PDF, un'immagine JPG o PNG, un documento Word o OpenDocument, un foglio Excel o OpenDocument, o un file di testo.",
        );
    };
    if !magic.matches(bytes) {
        return Err("Il contenuto del file non corrisponde alla sua estensione.");
    }
    Ok((name, content_type))
}

fn field(name: &'static str, message: &str) -> FieldError {
    FieldError {
        field: name,
        message: message.into(),
    }
}

fn text(
    errors: &mut Vec<FieldError>,
    name: &'static str,
    typed: &str,
    max: usize,
    missing: &str,
) -> String {
    let t = typed.trim();
    if t.is_empty() {
        errors.push(field(name, missing));
    } else if t.chars().count() > max {
        errors.push(field(
            name,
            &format!("Il testo è troppo lungo (al massimo {max} caratteri)."),
        ));
    }
    t.to_string()
}

fn date(errors: &mut Vec<FieldError>, name: &'static str, typed: &str) -> Option<Date> {
    let t = typed.trim();
    if t.is_empty() {
        return None;
    }
    match t.parse::<Date>() {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(field(name, "Data non valida: usa il formato gg/mm/aaaa."));
            None
        }
    }
}

/// A piece of news as typed in the office's form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewsForm {
    pub title: String,
    pub body: String,
    /// Empty: today.
    pub published_on: String,
    /// Empty: from the date of publication.
    pub visible_from: String,
    /// Empty: with no end.
    pub visible_to: String,
}

/// Publishes a piece of news, audited; its id.
pub async fn publish_news(ctx: Ctx<'_>, f: &NewsForm) -> Result<i64, AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    let mut e = Vec::new();
    let title = text(&mut e, "titolo", &f.title, 150, "Indica il titolo.");
    let body = text(
        &mut e,
        "testo",
        &f.body,
        5000,
        "Scrivi il testo della notizia.",
    );
    let day = today(clock, &tenant.timezone);
    let published = date(&mut e, "data", &f.published_on).unwrap_or(day);
    let from = date(&mut e, "dal", &f.visible_from).unwrap_or(published);
    let to = date(&mut e, "al", &f.visible_to);
    if let Some(to) = to
        && to < from
    {
        e.push(field(
            "al",
            "La fine della visibilità viene prima del suo inizio.",
        ));
    }
    if !e.is_empty() {
        return Err(AppError::Fields(e));
    }
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let id = content::insert_news(
        c,
        tenant.id,
        &NewNews {
            title: &title,
            body: &body,
            published_on: published,
            visible_from: from,
            visible_to: to,
        },
        now,
    )
    .await?;
    let after = serde_json::json!({
        "title": title,
        "published_on": published.to_string(),
        "visible_from": from.to_string(),
        "visible_to": to.map(|d| d.to_string()),
    });
    audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::PublishNews,
            AuditObject {
                kind: ObjectKind::News,
                id: Some(id),
            },
        )
        .after(after)
        .reason(&title),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// A public document as uploaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentForm {
    pub title: String,
    pub category: String,
    /// Empty: today.
    pub published_on: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// Publishes a document on the public pages, audited; its id.
pub async fn publish_document(ctx: Ctx<'_>, f: &DocumentForm) -> Result<i64, AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    let mut e = Vec::new();
    let title = text(&mut e, "titolo", &f.title, 150, "Indica il titolo.");
    let category = CATEGORIES
        .iter()
        .find(|(k, _)| *k == f.category)
        .map(|(k, _)| *k);
    if category.is_none() {
        e.push(field("categoria", "Scegli la categoria."));
    }
    let published =
        date(&mut e, "data", &f.published_on).unwrap_or_else(|| today(clock, &tenant.timezone));
    let file = match check_file(&f.file_name, &f.bytes) {
        Ok(x) => Some(x),
        Err(m) => {
            e.push(field("file", m));
            None
        }
    };
    let (Some(category), Some((file_name, content_type)), true) = (category, file, e.is_empty())
    else {
        return Err(AppError::Fields(e));
    };
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let id = content::insert_document(
        c,
        tenant.id,
        &NewDocument {
            family: None,
            category,
            title: &title,
            file_name: &file_name,
            content_type,
            content: &f.bytes,
            published_on: published,
        },
        now,
    )
    .await?;
    let after = serde_json::json!({
        "title": title,
        "category": category,
        "file_name": file_name,
        "bytes": f.bytes.len(),
        "published_on": published.to_string(),
    });
    audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::PublishDocument,
            AuditObject {
                kind: ObjectKind::Document,
                id: Some(id),
            },
        )
        .after(after)
        .reason(&title),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// What the office may withdraw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdraw {
    News(i64),
    Document(i64),
    /// A document only if it is a menu (what the kitchen may withdraw).
    Menu(i64),
}

/// Removes a piece of news or a public document, audited with what it was.
pub async fn withdraw(ctx: Ctx<'_>, what: Withdraw) -> Result<(), AppError> {
    let (db, clock, tenant) = (ctx.db, ctx.clock, ctx.tenant);
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let (action, kind, id, before, title) = match what {
        Withdraw::News(id) => {
            let item = content::all_news(c, tenant.id)
                .await?
                .into_iter()
                .find(|n| n.news.id == id)
                .ok_or_else(|| AppError::NotFound("Notizia non trovata.".into()))?;
            content::delete_news(c, tenant.id, id).await?;
            let before = serde_json::json!({
                "title": item.news.title,
                "published_on": item.news.published_on.to_string(),
            });
            (
                AuditAction::WithdrawNews,
                ObjectKind::News,
                id,
                before,
                item.news.title,
            )
        }
        Withdraw::Document(id) | Withdraw::Menu(id) => {
            let (info, _) = content::document(c, tenant.id, id, None)
                .await?
                .filter(|(d, _)| !matches!(what, Withdraw::Menu(_)) || d.category == MENU)
                .ok_or_else(|| AppError::NotFound("Documento non trovato.".into()))?;
            content::delete_public_document(c, tenant.id, id).await?;
            let before = serde_json::json!({
                "title": info.title,
                "category": info.category,
                "file_name": info.file_name,
            });
            (
                AuditAction::WithdrawDocument,
                ObjectKind::Document,
                id,
                before,
                info.title,
            )
        }
    };
    audit::record(
        c,
        tenant.id,
        &AuditEntry::new(ctx.actor, action, AuditObject { kind, id: Some(id) })
            .before(before)
            .reason(&title),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The public documents (`family` None) or the documents of one family, newest first.
pub async fn documents(
    ctx: Ctx<'_>,
    family: Option<FamilyId>,
) -> Result<Vec<DocumentInfo>, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(content::documents(&mut h.conn(), ctx.tenant.id, family).await?)
}

/// The documents of several families (a guardian's), newest first within each family.
pub async fn family_documents(
    ctx: Ctx<'_>,
    families: &[FamilyId],
) -> Result<Vec<DocumentInfo>, AppError> {
    let mut h = ctx.db.acquire().await?;
    let mut out = Vec::new();
    for f in families {
        out.extend(content::documents(&mut h.conn(), ctx.tenant.id, Some(*f)).await?);
    }
    Ok(out)
}

/// One public document with its content.
pub async fn public_document(
    ctx: Ctx<'_>,
    id: i64,
) -> Result<Option<(DocumentInfo, Vec<u8>)>, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(content::document(&mut h.conn(), ctx.tenant.id, id, None).await?)
}

/// One document with its content, if it belongs to one of `families` (a public document is
/// not one of them).
pub async fn family_document(
    ctx: Ctx<'_>,
    id: i64,
    families: &[FamilyId],
) -> Result<Option<(DocumentInfo, Vec<u8>)>, AppError> {
    let mut h = ctx.db.acquire().await?;
    for f in families {
        if let Some(found) = content::document(&mut h.conn(), ctx.tenant.id, id, Some(*f)).await? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Every piece of news (the office's list, newest first) and the public documents.
pub async fn office_lists(ctx: Ctx<'_>) -> Result<(Vec<NewsItem>, Vec<DocumentInfo>), AppError> {
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    Ok((
        content::all_news(c, ctx.tenant.id).await?,
        content::documents(c, ctx.tenant.id, None).await?,
    ))
}

/// What the municipality's public page shows.
#[derive(Debug, Clone)]
pub struct PublicHome {
    pub today: Date,
    /// Today's municipality-wide status; `None` outside any school year.
    pub status: Option<DayStatus>,
    /// The news visible today (at most ten), newest first.
    pub news: Vec<News>,
    pub documents: Vec<DocumentInfo>,
}

/// The municipality's public page: today's status, the news and the public documents.
pub async fn public_home(ctx: Ctx<'_>) -> Result<PublicHome, AppError> {
    let day = ctx.today();
    let t = ctx.tenant;
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    let status = match calendar::school_year_at(c, t.id, day).await? {
        None => None,
        Some(year) => {
            let cal = calendar::load_calendar(c, t, &year).await?;
            // The municipality-wide status: ids that match no school or class leave out the
            // closures of single schools and classes.
            Some(cal.day_status(day, SchoolId(0), ClassId(0)))
        }
    };
    Ok(PublicHome {
        today: day,
        status,
        news: content::visible_news(c, t.id, day, 10).await?,
        documents: content::documents(c, t.id, None).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_must_be_what_its_name_says() {
        assert_eq!(
            check_file("Menù inverno 2026.pdf", b"%PDF-1.7 ...").unwrap(),
            ("Menu-inverno-2026.pdf".to_string(), "application/pdf")
        );
        assert_eq!(
            check_file("C:\\Documenti\\tariffe.TXT", "Tariffe: 4,50 €".as_bytes())
                .unwrap()
                .0,
            "tariffe.TXT"
        );
        assert!(check_file("virus.exe", b"MZ\x90\x00").is_err());
        assert!(check_file("finto.pdf", b"MZ\x90\x00").is_err());
        assert!(check_file("immagine.png", b"%PDF-1.4").is_err());
        assert!(check_file("binario.txt", b"ab\x00cd").is_err());
        assert!(check_file("vuoto.pdf", b"").is_err());
        assert!(check_file("", b"%PDF-").is_err());
        let big = vec![b'a'; MAX_DOCUMENT_BYTES + 1];
        assert_eq!(
            check_file("grande.txt", &big),
            Err("Il file è troppo grande: al massimo 10 MB.")
        );
        let ok = vec![b'a'; MAX_DOCUMENT_BYTES];
        assert!(check_file("limite.txt", &ok).is_ok());
    }

    #[test]
    fn every_category_has_its_label() {
        for (k, l) in CATEGORIES {
            assert_eq!(category_label(k), l);
        }
        assert_eq!(category_label("comunicazione"), "Documento");
    }
}
