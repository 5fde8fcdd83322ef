//! Public content published by the office (news, documents) and documents sent to one family.

use jiff::civil::Date;
use refettorio_domain::{FamilyId, TenantId};

use crate::{Conn, Result, SqlDate, micros, on_conn};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct News {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub published_on: Date,
}

/// A piece of news to publish: shown on the public page from `visible_from` to `visible_to`
/// (open-ended when `None`), dated `published_on`.
#[derive(Debug, Clone)]
pub struct NewNews<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub published_on: Date,
    pub visible_from: Date,
    pub visible_to: Option<Date>,
}

pub async fn insert_news(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    n: &NewNews<'_>,
    now: jiff::Timestamp,
) -> Result<i64> {
    let sql = "INSERT INTO news (tenant_id, title, body, published_on, visible_from, visible_to, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(n.title)
            .bind(n.body)
            .bind(SqlDate(n.published_on))
            .bind(SqlDate(n.visible_from))
            .bind(n.visible_to.map(SqlDate))
            .bind(micros(now))
            .fetch_one(&mut *c)
            .await?
    });
    Ok(id)
}

/// A piece of news as the office lists it, with its visibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewsItem {
    pub news: News,
    pub visible_from: Date,
    pub visible_to: Option<Date>,
}

/// Every piece of news of the municipality, newest first (the office's list).
pub async fn all_news(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<NewsItem>> {
    let sql = "SELECT id, title, body, published_on, visible_from, visible_to FROM news \
               WHERE tenant_id = $1 ORDER BY published_on DESC, id DESC";
    #[allow(clippy::type_complexity)]
    let rows: Vec<(i64, String, String, SqlDate, SqlDate, Option<SqlDate>)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(id, title, body, p, from, to)| NewsItem {
            news: News {
                id,
                title,
                body,
                published_on: p.0,
            },
            visible_from: from.0,
            visible_to: to.map(|d| d.0),
        })
        .collect())
}

/// Removes a piece of news; false if there was none.
pub async fn delete_news(conn: &mut Conn<'_>, tenant: TenantId, id: i64) -> Result<bool> {
    let sql = "DELETE FROM news WHERE tenant_id = $1 AND id = $2";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Removes a public document (never a family's); false if there was none.
pub async fn delete_public_document(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: i64,
) -> Result<bool> {
    let sql = "DELETE FROM document WHERE tenant_id = $1 AND id = $2 AND family_id IS NULL";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// The news visible on `day`, newest first.
pub async fn visible_news(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    day: Date,
    limit: u32,
) -> Result<Vec<News>> {
    let sql = "SELECT id, title, body, published_on FROM news WHERE tenant_id = $1 AND visible_from <= $2 \
               AND (visible_to IS NULL OR visible_to >= $2) ORDER BY published_on DESC, id DESC LIMIT $3";
    let rows: Vec<(i64, String, String, SqlDate)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(SqlDate(day))
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(id, title, body, d)| News {
            id,
            title,
            body,
            published_on: d.0,
        })
        .collect())
}

/// A stored document without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentInfo {
    pub id: i64,
    pub family: Option<FamilyId>,
    pub category: String,
    pub title: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub published_on: Date,
}

#[derive(Debug, Clone)]
pub struct NewDocument<'a> {
    pub family: Option<FamilyId>,
    pub category: &'a str,
    pub title: &'a str,
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub content: &'a [u8],
    pub published_on: Date,
}

pub async fn insert_document(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    d: &NewDocument<'_>,
    now: jiff::Timestamp,
) -> Result<i64> {
    let sql = "INSERT INTO document (tenant_id, family_id, category, title, file_name, content_type, content, \
               published_on, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(d.family.map(FamilyId::get))
            .bind(d.category)
            .bind(d.title)
            .bind(d.file_name)
            .bind(d.content_type)
            .bind(d.content)
            .bind(SqlDate(d.published_on))
            .bind(micros(now))
            .fetch_one(&mut *c)
            .await?
    });
    Ok(id)
}

type InfoRow = (
    i64,
    Option<i64>,
    String,
    String,
    String,
    String,
    i64,
    SqlDate,
);

fn info(r: InfoRow) -> DocumentInfo {
    DocumentInfo {
        id: r.0,
        family: r.1.map(FamilyId),
        category: r.2,
        title: r.3,
        file_name: r.4,
        content_type: r.5,
        size: r.6,
        published_on: r.7.0,
    }
}

/// The public documents (`family` None) or the documents of one family, newest first.
pub async fn documents(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    family: Option<FamilyId>,
) -> Result<Vec<DocumentInfo>> {
    let sql = "SELECT id, family_id, category, title, file_name, content_type, \
               CAST(LENGTH(content) AS BIGINT) AS size, published_on FROM document \
               WHERE tenant_id = $1 AND ((family_id IS NULL AND $2 IS NULL) OR family_id = $2) \
               ORDER BY published_on DESC, id DESC";
    let rows: Vec<InfoRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(family.map(FamilyId::get))
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows.into_iter().map(info).collect())
}

/// One document with its content, if it is public (`family` None) or belongs to `family`.
pub async fn document(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: i64,
    family: Option<FamilyId>,
) -> Result<Option<(DocumentInfo, Vec<u8>)>> {
    let sql = "SELECT id, family_id, category, title, file_name, content_type, \
               CAST(LENGTH(content) AS BIGINT) AS size, published_on, content FROM document \
               WHERE tenant_id = $1 AND id = $2 AND ((family_id IS NULL AND $3 IS NULL) OR family_id = $3)";
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        family_id: Option<i64>,
        category: String,
        title: String,
        file_name: String,
        content_type: String,
        size: i64,
        published_on: SqlDate,
        content: Vec<u8>,
    }
    let row: Option<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id)
            .bind(family.map(FamilyId::get))
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(row.map(|r| {
        (
            info((
                r.id,
                r.family_id,
                r.category,
                r.title,
                r.file_name,
                r.content_type,
                r.size,
                r.published_on,
            )),
            r.content,
        )
    }))
}
