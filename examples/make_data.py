"""Write the small data sets of the examples (deterministic; run it to regenerate them).

    python examples/make_data.py

No pretrained model exists here, so every data set is built to be *learnable by a tiny model in
seconds* and still test generalisation: sentences come from templates and word lists, the target
follows from the source by a rule (copy the city, name the event; tag the names; ...), and the
``valid`` and ``test`` splits hold combinations never seen in training (a city with an event it
never appeared with, people and places never seen in training, questions paired in new ways).
``valid`` picks the best checkpoint; ``test`` is only used to report held-out scores (``make demo``).

Files (JSON lines, one example per line, with the fields the task head's ``collate`` reads):

    title_generation/data/{train,valid,test}.jsonl     {"source", "target"}
    ner/data/{train,valid,test}.jsonl                  {"text", "entities": [{"start", "end", "type"}]}
    semantic_matching/data/{train,valid,test}.jsonl    {"text_a", "text_b", "label"}
    text_classification/data/{train,valid,test}.jsonl  {"text", "label"}
    poetry_generation/data/{train,valid,test}.jsonl    {"source", "target"}
"""
import json
import random
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

HERE = Path(__file__).resolve().parent


def write_jsonl(path: Path, rows: Sequence[Dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def split_combinations(combos: List, rng: random.Random, valid: int, test: int) -> Tuple[List, List, List]:
    """Shuffle ``combos`` and cut off ``valid`` and ``test`` of them: held-out combinations."""
    combos = list(combos)
    rng.shuffle(combos)
    return combos[valid + test:], combos[:valid], combos[valid:valid + test]


# ------------------------------------------------------------------------------ title generation
CITIES = ["Lyon", "Oslo", "Porto", "Dublin", "Vienna", "Madrid", "Prague", "Krakow", "Geneva", "Turin",
          "Seville", "Bergen", "Leeds", "Bremen", "Lille", "Ghent", "Malmo", "Tallinn", "Zagreb", "Bilbao"]
# (what the article says happened, the headline's words for it)
EVENTS = [
    ("opened a new public library near the old harbour", "opens new library"),
    ("approved a plan to plant ten thousand trees along its main roads", "approves tree plan"),
    ("cancelled its summer music festival after weeks of heavy rain", "cancels music festival"),
    ("banned cars from the historic centre on weekends", "bans cars from centre"),
    ("raised bus and tram fares for the first time in ten years", "raises transport fares"),
    ("unveiled a bronze statue of a famous local poet", "unveils poet statue"),
    ("launched a free bicycle rental scheme for students", "launches free bike scheme"),
    ("closed three primary schools because of falling pupil numbers", "closes three schools"),
    ("welcomed a record number of tourists this summer", "sees record tourism"),
    ("signed a partnership agreement with a university in Japan", "signs deal with Japan"),
    ("reopened its main bridge after two years of repairs", "reopens main bridge"),
    ("elected its first female mayor in a close vote", "elects first female mayor"),
    ("announced plans to build a new football stadium", "plans new stadium"),
    ("switched off street lights at night to save energy", "cuts night lighting"),
    ("hosted an international chess tournament in its town hall", "hosts chess tournament"),
    ("lost power for several hours after a violent storm", "hit by storm blackout"),
    ("introduced a tax on plastic bags in all shops", "taxes plastic bags"),
    ("restored its medieval city walls with help from volunteers", "restores city walls"),
    ("opened a night market selling local food", "opens night market"),
    ("recorded its hottest day since records began", "records hottest day"),
]
SUBJECTS = ["{city}", "the city of {city}", "the council of {city}", "{city} city council"]
PREFIXES = ["", "On Monday, ", "On Friday evening, ", "Late last week, ", "Earlier this year, ",
            "In a surprise move, ", "After months of debate, "]
SUFFIXES = [".", ", officials said.", ", local media reported.", ". Residents gave the news a mixed reception.",
            ". The mayor called it a historic day.", ", according to a statement on its website."]


# A second sentence naming another city half of the time: the headline is about the first one.
DISTRACTORS = ["", "", "", " A similar plan was rejected in {other} last year.",
               " Neighbouring {other} may follow soon.", " Critics compared it with a failed project in {other}."]


def title_example(rng: random.Random, city: str, event: Tuple[str, str]) -> Dict[str, str]:
    prefix, subject = rng.choice(PREFIXES), rng.choice(SUBJECTS).format(city=city)
    if not prefix:
        subject = subject[0].upper() + subject[1:]
    other = rng.choice([c for c in CITIES if c != city])
    source = f"{prefix}{subject} {event[0]}{rng.choice(SUFFIXES)}{rng.choice(DISTRACTORS).format(other=other)}"
    return {"source": source, "target": f"{city} {event[1]}"}


def title_generation(rng: random.Random) -> Dict[str, List[Dict]]:
    """Valid and test: (city, event) pairs never seen together in training."""
    combos = [(c, e) for c in CITIES for e in EVENTS]
    train, valid, test = split_combinations(combos, rng, valid=40, test=40)
    return {"train": [title_example(rng, c, e) for c, e in train for _ in range(2)],
            "valid": [title_example(rng, c, e) for c, e in valid],
            "test": [title_example(rng, c, e) for c, e in test]}


# ------------------------------------------------------------------------------ named entities
FIRST = ["Alice", "Jonas", "Maria", "Kenji", "Omar", "Lena", "Tom", "Sofia", "Pavel", "Grace", "Ivan", "Emma",
         "Lucas", "Nadia", "Peter", "Hana", "David", "Clara", "Marco", "Sara", "Felix", "Ruth", "Arjun", "Nora",
         "Tariq", "Ingrid", "Mateo", "Chloe", "Viktor", "Amara", "Oscar", "Leila", "Hugo", "Yara", "Bruno", "Elena",
         "Samir", "Greta", "Diego", "Mila", "Anton", "Rosa", "Kofi", "Julia", "Milan", "Freya", "Rafael", "Zoe"]
LAST = ["Moreau", "Berg", "Santos", "Sato", "Haddad", "Fischer", "Baker", "Rossi", "Novak", "Okafor", "Petrov",
        "Larsen", "Silva", "Karim", "Walsh", "Kim", "Cohen", "Dubois", "Bianchi", "Lindqvist", "Adeyemi", "Mendel",
        "Rao", "Quist", "Nakamura", "Olsen", "Ferreira", "Kowalski", "Duarte", "Hughes", "Varga", "Keller", "Mensah",
        "Brandt", "Ortega", "Lund", "Horvat", "Ahmed", "Costa", "Meyer", "Janssen", "Popescu", "Ward", "Yilmaz",
        "Castro", "Holm", "Nilsen", "Weber"]
PLACES = ["Lisbon", "Oslo", "Nairobi", "Toronto", "Buenos Aires", "Cape Town", "Hamburg", "Kyoto", "Denver",
          "Marseille", "New Delhi", "Warsaw", "Lima", "Auckland", "Cairo", "Glasgow", "Seoul", "Quebec", "Valparaiso",
          "Tromso", "Perth", "Bologna", "Lagos", "Osaka", "Antwerp", "Krakow", "Dakar", "Hanoi", "Bergen", "Tbilisi",
          "Montreal", "Porto", "Accra", "Bogota", "Geneva", "Riga", "Malaga", "Utrecht", "Manila", "Adelaide",
          "Izmir", "Nantes", "Leipzig", "Quito", "Tunis", "Cork", "Gdansk", "Medellin", "Salzburg", "Turku", "Dundee",
          "Ljubljana", "Mombasa", "Brno", "Havana", "Vilnius", "Seville", "Aarhus", "Kazan", "Recife", "Halifax",
          "Nagoya", "Split", "Windhoek"]
ORG_NAMES = ["Northwind", "Apex", "Blue River", "Orion", "Greenfield", "Helios", "Atlas", "Silverline", "Maple",
             "Nordic", "Vega", "Summit", "Copperleaf", "Kestrel", "Bright Harbor", "Redstone", "Lumen", "Falcon",
             "Ironwood", "Polaris", "Sunbeam", "Westgate", "Crescent", "Evergreen", "Harbor Point", "Juniper",
             "Monarch", "Oakridge", "Pioneer", "Quantum", "Riverside", "Sterling", "Aurora", "Bluebell", "Cobalt",
             "Driftwood", "Emerald", "Foxglove", "Granite", "Hawthorn", "Indigo", "Kingfisher", "Larkspur",
             "Meridian", "Nimbus", "Osprey", "Pinecrest", "Saffron"]
ORG_KINDS = ["Bank", "Motors", "Studios", "Airlines", "University", "Energy", "Insurance", "Telecom"]
# Names only the test split uses: its sentences are about people, places and organisations never seen in training.
HELD_OUT = {"first": 8, "last": 8, "places": 12, "orgs": 6}


def name_pools(rng: random.Random) -> Tuple[Dict[str, List[str]], Dict[str, List[str]]]:
    """(training pools, test pools) of person, place and organisation names: disjoint name parts."""
    def cut(names: List[str], n: int) -> Tuple[List[str], List[str]]:
        names = list(names)
        rng.shuffle(names)
        return names[n:], names[:n]

    (first, first_t), (last, last_t) = cut(FIRST, HELD_OUT["first"]), cut(LAST, HELD_OUT["last"])
    (places, places_t), (orgs, orgs_t) = cut(PLACES, HELD_OUT["places"]), cut(ORG_NAMES, HELD_OUT["orgs"])

    def pools(firsts, lasts, locs, org_names):
        return {"PER": [f"{f} {l}" for f in firsts for l in lasts], "LOC": locs,
                "ORG": [f"{o} {k}" for o in org_names for k in ORG_KINDS]}

    return pools(first, last, places, orgs), pools(first_t, last_t, places_t, orgs_t)


FRAMES = [
    "{PER} flew from {LOC} to {LOC} for a meeting with {ORG}.",
    "{ORG} opened a new office in {LOC} last spring.",
    "{PER} has worked for {ORG} since 2015.",
    "According to {PER}, {ORG} will hire two hundred people in {LOC}.",
    "Fans in {LOC} cheered as {PER} arrived at the station.",
    "{PER} and {PER} met in {LOC} on Tuesday.",
    "The mayor of {LOC} thanked {ORG} for its generous donation.",
    "{ORG} named {PER} as its new chief executive.",
    "{PER} grew up in {LOC} before moving to {LOC}.",
    "Shares of {ORG} rose after {PER} spoke in {LOC}.",
    "A spokesperson for {ORG} said {PER} was not available for comment.",
    "Heavy snow closed the roads between {LOC} and {LOC}.",
    "{PER} will visit {LOC} next week to open a school.",
    "Nobody at {ORG} expected such strong results from {LOC}.",
    "In {LOC}, {PER} signed a contract with {ORG}.",
    "{ORG} and {ORG} agreed to build a factory near {LOC}.",
    "Last year {PER} left {ORG} to start a bakery in {LOC}.",
    "Tickets for the concert by {PER} in {LOC} sold out in an hour.",
    "Police in {LOC} are looking for a car stolen from {PER}.",
    "{PER} told reporters that {ORG} had never paid the bill.",
]
def ner_example(rng: random.Random, frame: str, pools: Dict[str, List[str]]) -> Dict:
    """Fill ``frame``'s slots with names; entities are character spans of the text."""
    text, entities, rest = "", [], frame
    while "{" in rest:
        before, _, after = rest.partition("{")
        kind, _, rest = after.partition("}")
        name = rng.choice(pools[kind])
        text += before
        entities.append({"start": len(text), "end": len(text) + len(name), "type": kind})
        text += name
    return {"text": text + rest, "entities": entities}


def ner(rng: random.Random) -> Dict[str, List[Dict]]:
    """Train and valid: names from the training pools; test: names never seen in training. No sentence repeats."""
    train_pools, test_pools = name_pools(rng)
    seen, splits = set(), {}
    for split, n, pools in (("train", 1000, train_pools), ("valid", 60, train_pools), ("test", 60, test_pools)):
        rows = []
        while len(rows) < n:
            row = ner_example(rng, rng.choice(FRAMES), pools)
            if row["text"] not in seen:
                seen.add(row["text"])
                rows.append(row)
        splits[split] = rows
    return splits


# ------------------------------------------------------------------------------ semantic matching
THINGS = ["passport", "driving licence", "library card", "bank card", "phone contract", "gym membership",
          "parking permit", "student visa", "work permit", "fishing licence", "bus pass", "health insurance",
          "credit card", "rental contract", "museum pass", "hunting licence", "tax number", "marriage certificate",
          "dog licence", "season ticket", "boat licence", "pension plan", "club membership", "train pass"]
INTENTS = {
    "renew": ["How do I renew my {x}?", "What is the way to renew a {x}?",
              "My {x} is about to expire, how can I extend it?"],
    "cancel": ["How can I cancel my {x}?", "I want to stop my {x}, what should I do?",
               "What are the steps to terminate a {x}?"],
    "lost": ["I lost my {x}, what now?", "What should I do if my {x} is missing?",
             "How do I replace a lost {x}?"],
    "cost": ["How much does a {x} cost?", "What is the price of a {x}?",
             "How expensive is it to get a {x}?"],
    "apply": ["How do I apply for a {x}?", "Where can I request a new {x}?",
              "What do I need to get a {x}?"],
}


def matching(rng: random.Random) -> Dict[str, List[Dict]]:
    combos = [(i, x) for i in INTENTS for x in THINGS]
    train, valid, test = split_combinations(combos, rng, valid=20, test=20)

    def pairs(own: List, n: int) -> List[Dict]:
        """Two questions about the same thing: the same question (1) or another one (0)."""
        rows = []
        for _ in range(n):
            intent, thing = rng.choice(own)
            a, b = rng.sample(INTENTS[intent], 2)
            label = int(rng.random() < 0.5)
            if not label:
                b = rng.choice(INTENTS[rng.choice([i for i in INTENTS if i != intent])])
            rows.append({"text_a": a.format(x=thing), "text_b": b.format(x=thing), "label": label})
        return rows

    return {"train": pairs(train, 1200), "valid": pairs(valid, 60), "test": pairs(test, 60)}


# ------------------------------------------------------------------------------ text classification
TOPICS = {
    "sports": (["The striker", "The home team", "The young goalkeeper", "The tennis champion", "The coach"],
               ["scored twice in the final minutes", "won the league title", "missed a penalty in the cup match",
                "broke the national record in the marathon", "signed a new contract with the club"]),
    "business": (["The bank", "The airline", "The car maker", "The retailer", "The startup"],
                 ["reported higher quarterly profits", "cut two thousand jobs", "raised fresh funding from investors",
                  "saw its shares fall sharply", "agreed to buy a smaller rival"]),
    "science": (["The research team", "The space agency", "The biologist", "The physics lab", "The observatory"],
                ["discovered a new species of frog", "launched a satellite to study the sun",
                 "published a study on ancient climate", "measured gravitational waves again",
                 "found water ice on a distant moon"]),
    "culture": (["The museum", "The orchestra", "The novelist", "The film director", "The theatre"],
                ["opened an exhibition of early photographs", "performed a new symphony",
                 "won a major literary prize", "premiered a documentary about rivers",
                 "staged a modern version of an old opera"]),
}
TAILS = [".", " on Sunday.", " this week.", ", reports said.", " to the surprise of many."]


def classification(rng: random.Random) -> Dict[str, List[Dict]]:
    combos = [(topic, s, p) for topic, (subjects, preds) in TOPICS.items() for s in subjects for p in preds]
    train, valid, test = split_combinations(combos, rng, valid=16, test=16)

    def rows(own):
        return [{"text": f"{s} {p}{rng.choice(TAILS)}", "label": topic} for topic, s, p in own]

    return {"train": rows(train) * 3, "valid": rows(valid), "test": rows(test)}


# ------------------------------------------------------------------------------ poetry
SEASONS = {"spring": ("green", "wakes"), "summer": ("golden", "burns"), "autumn": ("red", "falls"),
           "winter": ("white", "sleeps")}
SCENES = {"river": "water", "mountain": "stone", "garden": "rose", "harbour": "boat", "forest": "pine",
          "village": "roof", "meadow": "grass", "lake": "reed"}


def poem(season: str, scene: str) -> str:
    colour, verb = SEASONS[season]
    return f"the {colour} {scene} {verb} in {season}, the {SCENES[scene]} dreams of {colour} light."


def poetry(rng: random.Random) -> Dict[str, List[Dict]]:
    combos = [(s, c) for s in SEASONS for c in SCENES]
    train, valid, test = split_combinations(combos, rng, valid=4, test=4)

    def rows(own, times):
        return [{"source": f"{s} {c}", "target": poem(s, c)} for s, c in own for _ in range(times)]

    return {"train": rows(train, 8), "valid": rows(valid, 1), "test": rows(test, 1)}


def main() -> None:
    builders = {"title_generation": title_generation, "ner": ner, "semantic_matching": matching,
                "text_classification": classification, "poetry_generation": poetry}
    for name, build in builders.items():
        rng = random.Random(f"flagai_lite-{name}")  # one stream per data set: editing one leaves the others
        for split, rows in build(rng).items():
            write_jsonl(HERE / name / "data" / f"{split}.jsonl", rows)
            print(f"{name}/data/{split}.jsonl: {len(rows)} examples")


if __name__ == "__main__":
    main()
