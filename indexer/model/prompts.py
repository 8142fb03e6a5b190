"""Reference texts for hubness correction and for deriving a reference caption.

A bank of everyday subjects people photograph; each is encoded with the library's
prompt templates. A library can replace it (``Library.searching.set_query_bank``), e.g. with
its users' own past queries.
"""

SUBJECTS = (
    "a person", "a group of people", "a child", "a baby", "a man", "a woman", "a family", "a crowd", "a selfie",
    "a dog", "a cat", "a bird", "a horse", "a cow", "a fish", "an insect", "a butterfly", "a wild animal",
    "a car", "a bicycle", "a motorcycle", "a bus", "a train", "a boat", "an airplane", "a truck",
    "a house", "a building", "a city street", "a bridge", "a church", "a castle", "a skyline", "a room",
    "a kitchen", "a bedroom", "an office", "a shop", "a restaurant", "a stadium", "a museum", "a garden",
    "a beach", "the sea", "a lake", "a river", "a waterfall", "a mountain", "a forest", "a field", "a desert",
    "snow", "a sunset", "a sunrise", "the night sky", "clouds", "rain", "a park", "a road", "a tree", "flowers",
    "food", "a cake", "a pizza", "fruit", "vegetables", "a drink", "a coffee", "a meal on a table",
    "a birthday party", "a wedding", "a concert", "a sports game", "a graduation", "a holiday", "a picnic",
    "a computer", "a phone", "a book", "a document", "a screenshot", "a receipt", "a sign", "a painting",
    "a toy", "clothes", "shoes", "furniture", "a musical instrument", "a ball", "a bag", "a clock",
    "something red", "something green", "something blue", "something yellow", "something black",
    "something white", "a colorful picture", "a dark picture", "a bright picture", "a blurry picture",
    "a close-up", "a wide landscape", "an indoor scene", "an outdoor scene", "a pattern", "a texture",
)


def _pseudo_words(n: int, seed: int = 20261129) -> tuple[str, ...]:
    """``n`` pronounceable non-words ("vorta plimm"): texts that describe nothing.

    Their best scores against a library are what "no real match" looks like for this
    model on this library (the null of the relevance check); generated, so no model was
    tuned on them and they overlap no test's nonsense queries.
    """
    import random

    rng = random.Random(seed)
    cons, vows = "bcdfghjklmnprstvwxz", "aeiou"

    def word() -> str:
        return "".join(rng.choice(cons) + rng.choice(vows) for _ in range(rng.randint(2, 3))) + rng.choice(cons)

    return tuple(" ".join(word() for _ in range(rng.randint(1, 3))) for _ in range(n))


NONSENSE_PROBES = _pseudo_words(128)
