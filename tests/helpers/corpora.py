"""Small corpora that tests write to files of their own."""

# A tiny Chinese -> English corpus: no spaces between Chinese words.
NOUNS = [
    ("猫", "cats"),
    ("狗", "dogs"),
    ("苹果", "apples"),
    ("茶", "tea"),
    ("咖啡", "coffee"),
    ("书", "books"),
    ("音乐", "music"),
    ("米饭", "rice"),
    ("面条", "noodles"),
    ("水果", "fruit"),
]
SUBJECTS = [("我", "I"), ("你", "You"), ("我们", "We"), ("他们", "They")]


def chinese_pairs():
    pairs = []
    for zh_s, en_s in SUBJECTS:
        for zh_n, en_n in NOUNS:
            pairs.append((f"{zh_s}喜欢{zh_n}。", f"{en_s} like {en_n}."))
            pairs.append((f"{zh_s}不喜欢{zh_n}，但是喜欢茶。", f"{en_s} don't like {en_n}, but like tea."))
            pairs.append((f"{zh_s}喜欢{zh_n}吗？", f"Do {en_s.lower() if en_s != 'I' else 'I'} like {en_n}?"))
    return pairs
