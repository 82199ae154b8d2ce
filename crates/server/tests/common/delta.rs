//! What a sync client keeps: a mirror of a drive built only from delta pages, and the truth it is
//! checked against (a crawl of the tree through `children`).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::{Api, get_ok};

/// One item as a client sees it: where it is and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub parent: Option<String>,
    pub name: String,
    pub folder: bool,
    pub size: i64,
    pub sha256: Option<String>,
}

/// Path → (is a folder, size of a file, its SHA-256): what a listing and a mirror must agree on.
pub type Tree = BTreeMap<String, (bool, i64, Option<String>)>;

fn seen(v: &Value) -> Seen {
    let folder = v["folder"].is_object();
    Seen {
        parent: v["parentReference"]["id"].as_str().map(str::to_string),
        name: v["name"].as_str().unwrap_or_default().to_string(),
        folder,
        size: if folder {
            0
        } else {
            v["size"].as_i64().unwrap()
        },
        sha256: v["file"]["hashes"]["sha256Hash"]
            .as_str()
            .map(str::to_string),
    }
}

/// Reads one round of delta from `url` to its deltaLink, checking what every page promises:
/// no page with a nextLink is empty, and no item comes before the folder holding it when both
/// are in the page. Returns the entries, the deltaLink and how many pages it took.
pub async fn round(api: &Api, url: &str) -> (Vec<Value>, String, usize) {
    let (mut all, mut url, mut pages) = (vec![], url.to_string(), 0);
    loop {
        let page = get_ok(api, &url).await;
        pages += 1;
        let value = page["value"].as_array().unwrap().clone();
        // Where each item (not a deleted one: those may come in any order) shows in the page.
        let alive = |v: &&Value| !v["deleted"].is_object();
        let mut placed: HashMap<&str, usize> = HashMap::new();
        for (i, v) in value.iter().enumerate().filter(|(_, v)| alive(v)) {
            placed.insert(v["id"].as_str().unwrap(), i);
        }
        for (i, v) in value.iter().enumerate().filter(|(_, v)| alive(v)) {
            if let Some(p) = v["parentReference"]["id"].as_str()
                && let Some(&at) = placed.get(p)
            {
                let order: Vec<String> = value
                    .iter()
                    .map(|v| {
                        format!(
                            "{}<{}{}",
                            v["id"],
                            v["parentReference"]["id"],
                            if v["deleted"].is_object() {
                                " deleted"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect();
                assert!(
                    at < i,
                    "{} comes before its folder {p} in {url}: {order:?}",
                    v["id"]
                );
            }
        }
        all.extend(value.iter().cloned());
        if let Some(next) = page["@odata.nextLink"].as_str() {
            assert!(!value.is_empty(), "an empty page with a nextLink: {page}");
            url = next.to_string();
            continue;
        }
        let link = page["@odata.deltaLink"]
            .as_str()
            .unwrap_or_else(|| panic!("a last page without a deltaLink: {page}"));
        return (all, link.to_string(), pages);
    }
}

/// A drive as a sync client mirrors it, from delta alone.
pub struct Mirror {
    pub items: HashMap<String, Seen>,
    pub root: Option<String>,
    /// Where the next sync starts: the first delta URL, then each round's deltaLink.
    pub link: String,
}

impl Mirror {
    pub fn new(start: &str) -> Self {
        Self {
            items: HashMap::new(),
            root: None,
            link: start.to_string(),
        }
    }

    /// Applies one round of delta; returns its entries.
    pub async fn sync(&mut self, api: &Api) -> Vec<Value> {
        let (entries, link, _) = round(api, &self.link).await;
        for v in &entries {
            self.apply(v);
        }
        self.link = link;
        entries
    }

    fn apply(&mut self, v: &Value) {
        let id = v["id"].as_str().unwrap().to_string();
        if v["deleted"].is_object() {
            self.remove(&id);
            return;
        }
        let s = seen(v);
        if v["root"].is_object() {
            self.root = Some(id.clone());
        } else {
            let parent = s.parent.as_deref().expect("an item has a parent");
            assert!(
                self.items.contains_key(parent),
                "{v} arrived before its folder {parent}"
            );
        }
        self.items.insert(id, s);
    }

    /// Forgets an item and everything the mirror holds below it.
    fn remove(&mut self, id: &str) {
        let below: Vec<String> = self
            .items
            .keys()
            .filter(|k| self.is_below(k, id))
            .cloned()
            .collect();
        for k in below {
            self.items.remove(&k);
        }
        self.items.remove(id);
    }

    fn is_below(&self, item: &str, folder: &str) -> bool {
        let mut at = self.items.get(item).and_then(|s| s.parent.clone());
        let mut hops = 0;
        while let Some(p) = at {
            if p == folder {
                return true;
            }
            hops += 1;
            assert!(hops < 10_000, "a cycle in the mirror at {item}");
            at = self.items.get(&p).and_then(|s| s.parent.clone());
        }
        false
    }

    /// The mirror as paths below the root.
    pub fn tree(&self) -> Tree {
        let root = self.root.clone().expect("the mirror has seen the root");
        let mut out = Tree::new();
        for (id, s) in &self.items {
            if *id == root {
                continue;
            }
            let mut names = vec![s.name.clone()];
            let mut at = s.parent.clone();
            while let Some(p) = at {
                if p == root {
                    break;
                }
                let parent = self
                    .items
                    .get(&p)
                    .unwrap_or_else(|| panic!("{id} is below {p}, which the mirror lacks"));
                names.push(parent.name.clone());
                at = parent.parent.clone();
            }
            names.reverse();
            out.insert(names.join("/"), (s.folder, s.size, s.sha256.clone()));
        }
        out
    }
}

/// The drive's tree as `children` lists it, folder by folder.
pub async fn crawl(api: &Api, drive: &str) -> Tree {
    let mut out = Tree::new();
    let mut todo = vec![(
        String::new(),
        format!("/drives/{drive}/root/children?$top=1000"),
    )];
    while let Some((prefix, mut url)) = todo.pop() {
        loop {
            let page = get_ok(api, &url).await;
            for v in page["value"].as_array().unwrap() {
                let s = seen(v);
                let path = format!("{prefix}{}", s.name);
                if s.folder {
                    todo.push((
                        format!("{path}/"),
                        format!(
                            "/drives/{drive}/items/{}/children?$top=1000",
                            v["id"].as_str().unwrap()
                        ),
                    ));
                }
                out.insert(path, (s.folder, s.size, s.sha256));
            }
            match page["@odata.nextLink"].as_str() {
                Some(next) => url = next.to_string(),
                None => break,
            }
        }
    }
    out
}

/// A small deterministic generator (xorshift), so a failing sequence of operations repeats.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}
