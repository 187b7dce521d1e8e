"""The reviewed rules that turn WordNet's hypernym graph over ImageNet into labels people use:
which nodes are hidden, and which category each branch belongs to.

A node is visible when it is an ImageNet class or an override shows it; otherwise it must
(1) come from a lexicographer file of concrete things (CONCRETE_LEXFILES) or be one of the
top words in TOP_WORDS, (2) not be on the ABSTRACT list, and (3) be familiar: a lemma of it
was tagged in SemCor at least MIN_TAG_COUNT times in this sense (cntlist.rev), or one of its
one-word lemmas is the head word of a class under it ("retriever" in "golden retriever",
"mug" in "coffee mug"), which is how people name the kind, or it is on the reviewed FAMILIAR
list (everyday group words that SemCor's small corpus happens not to tag).
"""

from __future__ import annotations

MIN_TAG_COUNT = 1

# WordNet's lexicographer files of things one can photograph: noun.animal, noun.artifact,
# noun.food, noun.object (natural objects, landforms), noun.person and noun.plant.
CONCRETE_LEXFILES = frozenset({5, 6, 13, 17, 18, 20})

# noun.Tops words that people do type (the rest of noun.Tops is entity, object, whole, ...).
TOP_WORDS = {
    "n00015388": "animal",
    "n00017222": "plant",
    "n00021265": "food",
    "n00007846": "person",
}

# Everyday group words that SemCor never tagged in this sense; without them a golden
# retriever's chain would skip from dog to mammal.
FAMILIAR = {
    "n02075296": "carnivore",
    "n02083346": "canine",
    "n02120997": "feline",
    "n02127808": "big cat",
    "n02469914": "primate",
    "n02329401": "rodent",
    "n01874434": "marsupial",
    "n02395003": "swine",
    "n02062017": "aquatic mammal",
    "n01604330": "bird of prey",
    "n02000954": "wading bird",
    "n01627424": "amphibian",
    "n01974773": "crustacean",
    "n01940736": "mollusk",
    "n01905661": "invertebrate",
    "n03791235": "motor vehicle",
    "n04338517": "stringed instrument",
    "n04586932": "wind instrument",
    "n03614532": "keyboard instrument",
    "n02729837": "appliance",
    "n03528263": "home appliance",
    "n03620052": "kitchen appliance",
    "n03621049": "kitchen utensil",
    "n04381994": "tableware",
    "n04285146": "sports equipment",
    "n03414162": "game equipment",
    "n03852280": "optical instrument",
    "n03733925": "measuring instrument",
    "n03380867": "footwear",
    "n02938886": "calculator",
    "n03323703": "fastener",
}

# Concrete-file synsets that pass the familiarity test but that nobody types as a label:
# umbrella terms for how a thing is used or made, and taxonomy above the everyday kinds.
ABSTRACT = {
    "n00021939": "artifact",
    "n03575240": "instrumentality",
    "n03183080": "device",
    "n03094503": "container",
    "n03100490": "conveyance",
    "n03076708": "commodity",
    "n04341686": "structure",
    "n03294048": "equipment",
    "n03574816": "instrument",
    "n04014297": "protective covering",
    "n03419014": "garment",
    "n03839993": "obstruction",
    "n03297735": "establishment",
    "n02796623": "barrier",
    "n03748162": "mercantile establishment",
    "n03953020": "place of business",
    "n09287968": "geological formation",
    "n07570720": "nutriment",
    "n03309808": "fabric",
    "n04565375": "weapon",
    "n03892891": "part",
    "n03932203": "piece",
    "n03546340": "housing",
    "n04317420": "stick",
    "n04377057": "system",
    "n04574999": "wheel",
    "n03129123": "creation",
    "n04007894": "product",
    "n07800091": "feed",
    "n03252064": "drygoods",
    "n04599396": "work",
    "n04602044": "workplace",
    "n02727825": "apparatus",
    "n03078287": "communication system",
    "n04470953": "transducer",
    "n03091374": "connection",
    "n02974697": "case",
    "n03169390": "decoration",
    "n04191943": "shelter",
    "n04191595": "shelter",
    "n07882497": "concoction",
    "n02756098": "attire",
    "n09626238": "peer",
    "n09816771": "associate",
    "n03961939": "platform",
    "n04151940": "screen (cover)",
    "n03178782": "design",
    "n02735688": "area",
    "n03665366": "light source",
    "n09366017": "natural depression",
    "n02152991": "game (hunted animals)",
    "n03619396": "kit",
    "n04453910": "top (cover)",
    "n01886756": "placental",
    "n01466257": "chordate",
    "n01471682": "vertebrate",
    "n02370806": "ungulate",
    "n02394477": "even-toed ungulate",
    "n02399000": "ruminant",
    "n02401031": "bovid",
    "n02402010": "bovine",
}

EVERYDAY = "Everyday Objects"

# Anchor synset -> category, in the spirit of Rekognition DetectLabels' categories. A node
# takes the category of its nearest anchor (itself included); a top-level visible node under
# no anchor gets EVERYDAY, the fallback.
CATEGORY_ANCHORS = {
    "n00015388": "Animals and Pets",  # animal
    "n04524313": "Vehicles and Automotive",  # vehicle
    "n00021265": "Food and Beverage",  # food, nutrient
    "n07555863": "Food and Beverage",  # food, solid food
    "n07881800": "Food and Beverage",  # beverage
    "n00017222": "Plants and Flowers",  # plant
    "n07705931": "Food and Beverage",  # edible fruit: an apple is food, as produce is
    "n13134947": "Plants and Flowers",  # fruit (the plant organ)
    "n12992868": "Plants and Flowers",  # fungus
    "n03405725": "Furniture and Furnishings",  # furniture
    "n03051540": "Apparel and Accessories",  # clothing
    "n02756098": "Apparel and Accessories",  # attire
    "n03419014": "Apparel and Accessories",  # garment
    "n02728440": "Apparel and Accessories",  # apparel
    "n03082979": "Technology and Computing",  # computer
    "n03078287": "Technology and Computing",  # communication system
    "n04401088": "Technology and Computing",  # telephone
    "n02942699": "Technology and Computing",  # camera
    "n03699975": "Tools and Machinery",  # machine
    "n04451818": "Tools and Machinery",  # tool
    "n02913152": "Buildings and Architecture",  # building
    "n04341686": "Buildings and Architecture",  # structure
    "n03800933": "Musical Instruments",  # musical instrument
    "n09287968": "Nature and Outdoors",  # geological formation
    "n00019128": "Nature and Outdoors",  # natural object
    "n03964744": "Toys and Gaming",  # plaything, toy
    "n03414162": "Toys and Gaming",  # game equipment
    "n04285146": "Sports",  # sports equipment
    "n00007846": "Person Description",  # person
    "n03528263": "Home and Indoors",  # home appliance
    "n03621049": "Home and Indoors",  # kitchen utensil
    "n04381994": "Home and Indoors",  # tableware
    "n03405265": "Home and Indoors",  # furnishing
}
