/* SPDX-License-Identifier: MIT */
/*
 * Seed vocabulary: a dozen categories of farm produce with their products, units, price
 * ranges and descriptive words, plus general words. Lists end with NULL. The seeder adds
 * thousands of generated place words (farm and village names) from the syllables.
 */
#include "seed_data.h"

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

const struct fl_seed_category fl_seed_categories[] = {
    {"vegetables", "VEG",
     LIST("Cherry Tomatoes", "Plum Tomatoes", "Potatoes", "Sweet Potatoes", "Carrots", "Spinach",
          "Kale", "Cauliflower", "Broccoli", "Cabbage", "Red Onions", "Shallots", "Garlic",
          "Okra", "Eggplant", "Bell Peppers", "Green Chillies", "Cucumbers", "Zucchini",
          "Pumpkin", "Beetroot", "Radishes", "Green Beans", "Sweet Corn", "Leeks", "Lettuce"),
     LIST("kg", "500 g", "bunch", "piece"),
     LIST("crisp", "leafy", "tender", "earthy", "vine", "ripened", "harvested", "soil",
          "greenhouse", "field", "roots", "stalks"),
     400, 18000},
    {"fruits", "FRU",
     LIST("Alphonso Mangoes", "Bananas", "Apples", "Pears", "Guavas", "Papayas", "Pomegranates",
          "Oranges", "Lemons", "Limes", "Strawberries", "Blueberries", "Grapes", "Watermelon",
          "Muskmelon", "Pineapple", "Figs", "Plums", "Peaches", "Apricots", "Lychees",
          "Jackfruit"),
     LIST("kg", "dozen", "500 g", "box"),
     LIST("juicy", "sweet", "tangy", "orchard", "ripe", "fragrant", "seasonal", "tree",
          "sun", "picked", "aromatic", "succulent"),
     600, 45000},
    {"dairy", "DAI",
     LIST("Whole Milk", "Toned Milk", "Buffalo Milk", "Paneer", "Butter", "Ghee", "Curd",
          "Greek Yogurt", "Buttermilk", "Cream", "Cheddar Cheese", "Mozzarella", "Khoa",
          "Goat Cheese", "Cottage Cheese"),
     LIST("litre", "500 ml", "kg", "250 g"),
     LIST("creamy", "pasteurised", "grass", "fed", "cows", "buffaloes", "fresh", "churned",
          "cultured", "rich", "dairy", "milked"),
     350, 90000},
    {"eggs", "EGG",
     LIST("Brown Eggs", "White Eggs", "Free Range Eggs", "Duck Eggs", "Quail Eggs",
          "Country Eggs", "Omega Eggs"),
     LIST("dozen", "half dozen", "tray of 30"),
     LIST("hens", "pasture", "yolks", "laid", "coop", "barn", "flock", "shells"), 600, 15000},
    {"grains", "GRA",
     LIST("Basmati Rice", "Brown Rice", "Red Rice", "Whole Wheat", "Wheat Flour", "Millet",
          "Finger Millet", "Sorghum", "Barley", "Oats", "Quinoa", "Semolina", "Poha",
          "Maize Flour"),
     LIST("kg", "5 kg", "500 g"),
     LIST("stone", "ground", "milled", "polished", "unpolished", "grains", "aged", "husk",
          "bran", "wholesome", "fibre", "harvest"),
     450, 35000},
    {"pulses", "PUL",
     LIST("Toor Dal", "Moong Dal", "Chana Dal", "Urad Dal", "Masoor Dal", "Rajma",
          "Kabuli Chana", "Black Chana", "Green Gram", "Horse Gram", "Lobia", "Soybeans"),
     LIST("kg", "500 g", "2 kg"),
     LIST("protein", "split", "whole", "sun", "dried", "sorted", "lentils", "beans", "legumes",
          "soaked"),
     600, 28000},
    {"spices", "SPI",
     LIST("Turmeric Powder", "Red Chilli Powder", "Coriander Seeds", "Cumin Seeds",
          "Black Pepper", "Cardamom", "Cloves", "Cinnamon", "Mustard Seeds", "Fenugreek",
          "Garam Masala", "Saffron", "Star Anise", "Nutmeg", "Bay Leaves"),
     LIST("100 g", "250 g", "50 g", "kg"),
     LIST("pungent", "aromatic", "roasted", "ground", "hand", "pounded", "spice", "warm",
          "curcumin", "essential", "oils", "bold"),
     300, 250000},
    {"honey", "HON",
     LIST("Wild Honey", "Forest Honey", "Multiflora Honey", "Acacia Honey", "Litchi Honey",
          "Mustard Honey", "Eucalyptus Honey", "Raw Honeycomb", "Jamun Honey"),
     LIST("500 g", "250 g", "kg"),
     LIST("bees", "hives", "nectar", "blossoms", "raw", "unfiltered", "apiary", "golden",
          "floral", "crystallised"),
     1500, 30000},
    {"oils", "OIL",
     LIST("Cold Pressed Groundnut Oil", "Mustard Oil", "Sesame Oil", "Coconut Oil",
          "Sunflower Oil", "Olive Oil", "Flaxseed Oil", "Castor Oil", "Almond Oil"),
     LIST("litre", "500 ml", "5 litre"),
     LIST("pressed", "cold", "wood", "ghani", "extracted", "unrefined", "kernels", "seeds",
          "virgin", "nutty"),
     1200, 60000},
    {"bakery", "BAK",
     LIST("Sourdough Bread", "Multigrain Bread", "Brown Bread", "Rusk", "Millet Cookies",
          "Oat Biscuits", "Banana Bread", "Whole Wheat Buns", "Focaccia", "Croissants",
          "Jaggery Cake"),
     LIST("loaf", "pack", "piece", "500 g"),
     LIST("baked", "oven", "crust", "crumb", "leavened", "wholegrain", "bakery", "morning",
          "flaky", "dough"),
     400, 15000},
    {"meat", "MEA",
     LIST("Country Chicken", "Broiler Chicken", "Mutton", "Goat Meat", "Pork", "Duck",
          "Chicken Sausages", "Lamb Chops", "Minced Mutton"),
     LIST("kg", "500 g"),
     LIST("pasture", "raised", "butchered", "cuts", "lean", "tender", "humanely", "antibiotic",
          "marinade", "grill"),
     1800, 120000},
    {"herbs", "HER",
     LIST("Coriander Leaves", "Mint", "Curry Leaves", "Basil", "Holy Basil", "Parsley",
          "Dill", "Fenugreek Leaves", "Lemongrass", "Rosemary", "Thyme", "Spring Onions"),
     LIST("bunch", "100 g", "250 g"),
     LIST("fragrant", "sprigs", "leaves", "garnish", "aroma", "herb", "picked", "morning",
          "dew", "tender"),
     100, 6000},
};
const size_t fl_seed_n_categories = sizeof(fl_seed_categories) / sizeof(fl_seed_categories[0]);

const char *const fl_seed_adjectives[] = {
    "Organic", "Fresh", "Farm Fresh", "Heirloom", "Local", "Premium", "Handpicked",
    "Naturally Grown", "Pesticide Free", "Hill", "Village", "Seasonal", "Small Batch",
    "Traditional", "Select", "Classic", "Wild", "Country", NULL};

const char *const fl_seed_place_words[] = {
    "Green", "Golden", "Silver", "Red", "Blue", "Sunny", "Misty", "Old", "New", "High",
    "Little", "Great", "Rolling", "Hidden", "Morning", "Evening", "River", "Stone", "Oak",
    "Maple", "Banyan", "Neem", "Mango", "Lotus", "Palm", "Cedar", "Willow", NULL};

const char *const fl_seed_place_kinds[] = {
    "Valley", "Hill", "Creek", "Meadow", "Ridge", "Fields", "Grove", "Brook", "Springs",
    "Plains", "Terrace", "Acres", "Hollow", "Bend", NULL};

const char *const fl_seed_producer_kinds[] = {
    "Farm", "Farms", "Orchard", "Dairy", "Apiary", "Gardens", "Mill", "Co-op", "Growers",
    "Estate", "Homestead", "Collective", NULL};

const char *const fl_seed_common_words[] = {
    "fresh", "harvest", "organic", "farm", "grown", "natural", "quality", "local", "family",
    "season", "picked", "delivered", "daily", "best", "taste", "flavour", "healthy", "pure",
    "traditional", "sustainable", "small", "farmers", "cooperative", "village", "region",
    "soil", "water", "rain", "sunshine", "careful", "sorted", "packed", "cleaned", "graded",
    "premium", "variety", "heritage", "cooking", "salads", "curries", "breakfast", "snacks",
    "desserts", "kitchen", "recipes", "everyday", "festive", "weekly", "bulk", "store",
    "cool", "dry", "place", "refrigerate", "consume", "within", "days", "week", "months",
    "no", "preservatives", "chemicals", "pesticides", "added", "colours", "free", "from",
    "certified", "tested", "lab", "batch", "traceable", "source", "direct", "fair", "price",
    "supports", "women", "self", "help", "group", "rural", "livelihoods", "monsoon",
    "winter", "summer", "spring", "autumn", "early", "late", "first", "flush", "crop",
    "yield", "nutrients", "vitamins", "minerals", "iron", "calcium", "antioxidants",
    "digestion", "energy", "immunity", "wellness", "children", "elders", "athletes",
    "texture", "colour", "crunch", "smooth", "soft", "firm", "bright", "deep", "mild",
    "strong", "subtle", "balanced", "complex", "notes", "finish", "hint", "touch", "aroma",
    "compost", "manure", "drip", "irrigation", "rotation", "mulch", "seedlings", "nursery",
    "grafted", "native", "indigenous", "open", "pollinated", "hybrid", "rainfed", "terraced",
    "hills", "plains", "coast", "delta", "plateau", "forest", "river", "valley", "lake",
    NULL};

const char *const fl_seed_syllables[] = {
    "ka", "ri", "ma", "lo", "na", "ve", "su", "ta", "pa", "li", "do", "ru", "sha", "mi",
    "ne", "go", "ba", "ti", "ra", "ko", "ya", "de", "vi", "la", "mo", "pu", "se", "ha",
    "ni", "jo", "an", "el", "or", "um", "is", "ar", "en", "ol", "ur", "ad", NULL};
