//! A synthetic catalog for `bench search`: product names, descriptions,
//! brands, categories and tags drawn from fixed word lists by a seeded
//! generator, so every run indexes the same products and asks the same
//! queries, with words as unevenly common as a real catalog's.

use serde_json::{json, Value};

const ADJECTIVES: &[&str] = &[
    "compact",
    "wireless",
    "portable",
    "classic",
    "premium",
    "ergonomic",
    "vintage",
    "smart",
    "rugged",
    "slim",
    "heavy",
    "quiet",
    "bright",
    "foldable",
    "waterproof",
    "modular",
    "deluxe",
    "essential",
    "professional",
    "mini",
    "large",
    "soft",
    "steel",
    "retro",
    "digital",
    "analog",
    "travel",
    "studio",
    "outdoor",
    "indoor",
    "kids",
    "adjustable",
    "rechargeable",
    "organic",
    "ceramic",
    "leather",
    "bamboo",
    "copper",
    "glass",
    "wooden",
];
const NOUNS: &[&str] = &[
    "headphones",
    "speaker",
    "lamp",
    "kettle",
    "backpack",
    "keyboard",
    "mouse",
    "monitor",
    "camera",
    "tripod",
    "blender",
    "toaster",
    "chair",
    "desk",
    "notebook",
    "pen",
    "bottle",
    "mug",
    "jacket",
    "sneakers",
    "watch",
    "charger",
    "cable",
    "router",
    "drone",
    "tablet",
    "phone",
    "case",
    "wallet",
    "umbrella",
    "tent",
    "sleeping-bag",
    "stove",
    "knife",
    "pan",
    "pillow",
    "blanket",
    "mirror",
    "clock",
    "radio",
    "microphone",
    "guitar",
    "drum",
    "ball",
    "racket",
    "helmet",
    "bicycle",
    "scooter",
    "skateboard",
    "printer",
    "scanner",
    "projector",
    "sofa",
    "shelf",
    "vase",
    "candle",
    "brush",
    "razor",
    "dryer",
    "heater",
];
const BRANDS: &[&str] = &[
    "Acme",
    "Sonic",
    "Lumo",
    "Boil",
    "Optix",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Initech",
    "Umbrella",
    "Globex",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Aperture",
    "Oscorp",
];
const CATEGORIES: &[&str] = &[
    "audio",
    "lighting",
    "kitchen",
    "bags",
    "computers",
    "photo",
    "furniture",
    "office",
    "drinkware",
    "clothing",
    "accessories",
    "networking",
    "outdoor",
    "home",
    "music",
    "sports",
    "mobility",
    "printing",
    "bathroom",
    "gadgets",
];
const WORDS: &[&str] = &[
    "durable",
    "design",
    "battery",
    "hours",
    "sound",
    "light",
    "weight",
    "everyday",
    "use",
    "comfortable",
    "grip",
    "finish",
    "matte",
    "gloss",
    "colour",
    "black",
    "white",
    "blue",
    "red",
    "green",
    "grey",
    "silver",
    "gold",
    "warranty",
    "years",
    "gift",
    "home",
    "office",
    "travel",
    "easy",
    "clean",
    "fast",
    "charging",
    "long",
    "lasting",
    "fits",
    "most",
    "standard",
    "sizes",
    "made",
    "recycled",
    "materials",
    "handcrafted",
    "precision",
    "engineered",
    "noise",
    "cancelling",
    "bass",
    "crisp",
    "clear",
    "vivid",
    "colours",
    "sharp",
    "image",
    "stable",
    "secure",
    "lock",
    "zip",
    "pocket",
    "strap",
    "handle",
    "base",
    "stand",
    "wall",
    "mount",
];
const TAGS: &[&str] = &[
    "new",
    "sale",
    "bestseller",
    "eco",
    "gift",
    "limited",
    "bundle",
    "refurbished",
    "premium",
    "budget",
    "family",
    "pro",
    "compact",
    "outdoor",
    "wireless",
];

/// A seeded xorshift generator: the same products every run.
#[derive(Debug, Clone)]
pub struct Seeded(u64);

impl Seeded {
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

    /// An index below `n`, skewed toward the start of lists (a few words
    /// common, most rare), like words in real product text.
    fn skewed(&mut self, n: usize) -> usize {
        let a = self.next() as usize % n;
        let b = self.next() as usize % n;
        a.min(b)
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.skewed(list.len())]
    }
}

/// The payload of `catalog.product_created` for product `n`.
pub fn product(n: u64, rng: &mut Seeded) -> Value {
    let name = format!(
        "{} {} {} {}",
        rng.pick(BRANDS),
        rng.pick(ADJECTIVES),
        rng.pick(NOUNS),
        n % 1000
    );
    let description: Vec<&str> = (0..12).map(|_| rng.pick(WORDS)).collect();
    let tags: Vec<&str> = (0..2).map(|_| rng.pick(TAGS)).collect();
    json!({
        "product_id": format!("bench-{n}"),
        "sku": format!("BENCH-{n}"),
        "name": name,
        "category": rng.pick(CATEGORIES),
        "brand": rng.pick(BRANDS),
        "price_cents": 100 + (rng.next() % 50_000) as i64,
        "stock": rng.next() % 100,
        "tags": tags,
        "featured": rng.next() % 20 == 0,
        "description": description.join(" "),
    })
}

/// Search paths as shoppers would ask: one word, two words, a word with
/// a filter and a sort, a misspelt word.
pub fn search_paths(count: usize, rng: &mut Seeded) -> Vec<String> {
    (0..count)
        .map(|i| match i % 10 {
            0..=4 => format!("/api/search?q={}", rng.pick(NOUNS)),
            5..=7 => format!("/api/search?q={}+{}", rng.pick(ADJECTIVES), rng.pick(NOUNS)),
            8 => format!(
                "/api/search?q={}&category={}&sort=price",
                rng.pick(NOUNS),
                rng.pick(CATEGORIES)
            ),
            _ => {
                let word = rng.pick(NOUNS);
                // Drop one inner letter: a typo the index must correct.
                let cut = 1 + rng.next() as usize % (word.len() - 2);
                format!("/api/search?q={}{}", &word[..cut], &word[cut + 1..])
            }
        })
        .collect()
}

/// Suggestion paths as someone types: prefixes of 2 to 5 letters.
pub fn suggest_paths(count: usize, rng: &mut Seeded) -> Vec<String> {
    (0..count)
        .map(|_| {
            let word = if rng.next() % 2 == 0 {
                rng.pick(NOUNS)
            } else {
                rng.pick(ADJECTIVES)
            };
            let len = (2 + rng.next() as usize % 4).min(word.len());
            format!("/api/search/suggest?q={}", &word[..len])
        })
        .collect()
}

/// wrk's script: each request is one of `paths`, at random.
pub fn wrk_script(paths: &[String]) -> String {
    let list = paths
        .iter()
        .map(|p| format!("  \"{p}\","))
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "local paths = {{\n{list}\n}}\nmath.randomseed(7)\n\
         request = function()\n  return wrk.format(\"GET\", paths[math.random(#paths)])\nend\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_catalog_and_queries() {
        let a = product(7, &mut Seeded::new(3));
        let b = product(7, &mut Seeded::new(3));
        assert_eq!(a, b);
        assert_eq!(a["product_id"], "bench-7");
        let paths = search_paths(20, &mut Seeded::new(1));
        assert_eq!(paths.len(), 20);
        assert!(paths.iter().all(|p| p.starts_with("/api/search?q=")));
        let script = wrk_script(&paths);
        assert!(script.contains("wrk.format(\"GET\""));
        assert!(suggest_paths(5, &mut Seeded::new(1))
            .iter()
            .all(|p| p.len() > "/api/search/suggest?q=".len() + 1));
    }
}
