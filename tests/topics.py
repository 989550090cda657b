"""Three-topic sample texts whose topic changes the splitter must find."""

ZH_TOPICS = [
    "大熊猫是中国特有的哺乳动物，主要生活在四川、陕西和甘肃的山区。"
    "它们每天要花十几个小时进食竹子，一只成年大熊猫一天能吃掉十多公斤竹子。"
    "野生大熊猫通常独居，只有在繁殖季节才会相聚。",
    "红烧肉是一道经典的家常菜，选用肥瘦相间的五花肉最合适。"
    "先把五花肉切块焯水，再用冰糖炒出糖色，让肉块均匀上色。"
    "最后加入生抽、老抽和料酒，小火慢炖一个小时，汤汁收浓即可出锅。",
    "量子计算机利用量子比特进行运算，量子比特可以同时处于多种状态的叠加。"
    "借助量子纠缠，量子算法在某些问题上比经典算法快得多，比如大数分解。"
    "不过量子比特非常脆弱，容易受到环境噪声干扰，纠错仍是主要难题。",
]

EN_TOPICS = [
    "The giant panda lives in the mountain forests of central China. "
    "It spends up to fourteen hours a day eating bamboo shoots and leaves. "
    "Adult pandas are solitary animals and meet only in the short mating season.",
    "To bake sourdough bread, first feed your starter the night before. "
    "Mix flour, water and salt with the active starter and let the dough rest. "
    "Bake the loaf in a hot Dutch oven until the crust turns deep brown.",
    "Quantum computers store information in qubits that can hold superpositions. "
    "Entangled qubits let quantum algorithms factor large numbers faster. "
    "Qubits are fragile, and error correction remains the hardest engineering problem.",
]


def joined(topics: list[str], sep: str = "") -> tuple[str, list[int]]:
    """The topics as one text, and the character offsets where topics 2.. start."""
    text = ""
    starts = []
    for i, topic in enumerate(topics):
        if i:
            text += sep
            starts.append(len(text))
        text += topic
    return text, starts
