"""The lexicon of the embedded Portuguese→English corpus.

Every entry here was written by this project. Portuguese spelling follows
European Portuguese (``autocarro``, ``comboio``, ``sumo``, ``tu`` with its own
verb forms, ``falámos`` for the preterite), except that questions use ``Por
que`` ("why"), so that ``porque`` always means "because". English follows
American spelling.

The tables are plain text, one entry a line, fields separated by ``|``, so a
reader can check a translation at a glance. :func:`conjugate` builds the
Portuguese verb forms from the infinitive plus a few irregular tables.

Persons are indexed ``0..4``: ``eu``, ``tu``, ``ele/ela``, ``nós``,
``eles/elas/vocês`` (``vocês`` takes the third person plural form, as in
modern Portuguese). Tenses are ``pres``, ``pret`` (preterite), ``impf``
(imperfect) and ``fut``.
"""

from __future__ import annotations

import dataclasses

TENSES = ("pres", "pret", "impf", "fut")


@dataclasses.dataclass(frozen=True)
class Noun:
    """A noun with its forms and the facts the grammar needs.

    ``kinds`` drive selection (what a verb can take, which adjectives fit);
    ``loc`` is the English preposition for Portuguese ``em`` ("na mesa" -> "on
    the table"); ``via`` is the English preposition for ``por`` ("pelo
    parque" -> "through the park"), empty where ``por`` does not fit.
    """

    pt: str
    pt_pl: str
    gender: str  # "m" or "f"
    en: str
    en_pl: str
    kinds: tuple[str, ...]
    loc: str = "in"
    via: str = ""

    @property
    def mass(self) -> bool:
        return "mass" in self.kinds

    @property
    def pronoun(self) -> str:
        """English pronoun for one referent of this noun."""
        if "person" in self.kinds or "name" in self.kinds:
            return "he" if self.gender == "m" else "she"
        return "it"


@dataclasses.dataclass(frozen=True)
class Adjective:
    """An adjective: four Portuguese forms, one English form.

    ``order`` places it among other English adjectives (opinion 0, size 1,
    age 2, colour 3); ``copula`` is the Portuguese verb it takes as a
    predicate (``ser`` for properties, ``estar`` for states); ``kinds`` are
    the noun kinds it describes.
    """

    forms: tuple[str, str, str, str]  # m.sg, f.sg, m.pl, f.pl
    en: str
    order: int
    copula: str
    kinds: tuple[str, ...]

    def form(self, gender: str, plural: bool) -> str:
        return self.forms[(2 if plural else 0) + (1 if gender == "f" else 0)]


@dataclasses.dataclass(frozen=True)
class Verb:
    """A verb: Portuguese paradigm, English forms and its argument frame.

    ``frame`` is one of ``T`` (transitive, object kinds in ``args``), ``L``
    (intransitive with an optional place, place kinds in ``args``), ``M``
    (motion: ``ir a`` + place), ``P`` (path: ``por`` + place), ``D``
    (ditransitive: object kinds, then ``a`` + a person), ``G`` (``gostar de``
    style: object introduced by ``de``) or ``I`` (intransitive).
    ``subjects`` is ``p`` (people), ``pa`` (people and animals) or ``a``.
    ``aspect``: ``dyn`` verbs render the imperfect as "was eating"; ``stat``
    verbs as a simple past ("had"); ``pf`` verbs have no imperfect; ``stnp``
    verbs are stative and have no preterite.
    """

    inf: str
    en: tuple[str, str, str, str]  # base, 3sg, past, -ing
    frame: str
    args: tuple[str, ...]
    subjects: str
    aspect: str
    paradigm: dict

    def form(self, tense: str, person: int) -> str:
        return self.paradigm[tense][person]

    @property
    def tenses(self) -> tuple[str, ...]:
        if self.aspect == "pf":
            return ("pres", "pret", "fut")
        if self.aspect == "stnp":
            return ("pres", "impf", "fut")
        return TENSES


# --------------------------------------------------------------------------
# Nouns: pt | pt plural ("-" = mass noun) | gender | en | en plural | kinds
#        | loc preposition | via preposition
NOUNS_TABLE = """
homem|homens|m|man|men|person,nopos
mulher|mulheres|f|woman|women|person,nopos
menino|meninos|m|boy|boys|person
menina|meninas|f|girl|girls|person
pai|-|m|father|-|person
mãe|-|f|mother|-|person
irmão|irmãos|m|brother|brothers|person
irmã|irmãs|f|sister|sisters|person
filho|filhos|m|son|sons|person
filha|filhas|f|daughter|daughters|person
avô|-|m|grandfather|-|person
avó|-|f|grandmother|-|person
tio|tios|m|uncle|uncles|person
tia|tias|f|aunt|aunts|person
amigo|amigos|m|friend|friends|person
amiga|amigas|f|friend|friends|person
vizinho|vizinhos|m|neighbor|neighbors|person
vizinha|vizinhas|f|neighbor|neighbors|person
rei|reis|m|king|kings|person
rainha|rainhas|f|queen|queens|person
professor|professores|m|teacher|teachers|person,job
professora|professoras|f|teacher|teachers|person,job
médico|médicos|m|doctor|doctors|person,job
médica|médicas|f|doctor|doctors|person,job
aluno|alunos|m|student|students|person,job
aluna|alunas|f|student|students|person,job
cozinheiro|cozinheiros|m|cook|cooks|person,job
cozinheira|cozinheiras|f|cook|cooks|person,job
pescador|pescadores|m|fisherman|fishermen|person,job
agricultor|agricultores|m|farmer|farmers|person,job
enfermeira|enfermeiras|f|nurse|nurses|person,job
João|-|m|João|-|name
Pedro|-|m|Pedro|-|name
Miguel|-|m|Miguel|-|name
Tiago|-|m|Tiago|-|name
Rui|-|m|Rui|-|name
Paulo|-|m|Paulo|-|name
Maria|-|f|Maria|-|name
Ana|-|f|Ana|-|name
Sofia|-|f|Sofia|-|name
Inês|-|f|Inês|-|name
Beatriz|-|f|Beatriz|-|name
Marta|-|f|Marta|-|name
animal|animais|m|animal|animals|animal
cão|cães|m|dog|dogs|animal
gato|gatos|m|cat|cats|animal
cavalo|cavalos|m|horse|horses|animal
vaca|vacas|f|cow|cows|animal
pássaro|pássaros|m|bird|birds|animal
rato|ratos|m|mouse|mice|animal
coelho|coelhos|m|rabbit|rabbits|animal
pato|patos|m|duck|ducks|animal
galinha|galinhas|f|hen|hens|animal
ovelha|ovelhas|f|sheep|sheep|animal
porco|porcos|m|pig|pigs|animal
leão|leões|m|lion|lions|animal
urso|ursos|m|bear|bears|animal
macaco|macacos|m|monkey|monkeys|animal
elefante|elefantes|m|elephant|elephants|animal
raposa|raposas|f|fox|foxes|animal
lobo|lobos|m|wolf|wolves|animal
tartaruga|tartarugas|f|turtle|turtles|animal
cobra|cobras|f|snake|snakes|animal
girafa|girafas|f|giraffe|giraffes|animal
burro|burros|m|donkey|donkeys|animal
peixe|peixes|m|fish|fish|animal,food
maçã|maçãs|f|apple|apples|food
laranja|laranjas|f|orange|oranges|food
banana|bananas|f|banana|bananas|food
bolo|bolos|m|cake|cakes|food
ovo|ovos|m|egg|eggs|food
tomate|tomates|m|tomato|tomatoes|food
cenoura|cenouras|f|carrot|carrots|food
biscoito|biscoitos|m|cookie|cookies|food
pera|peras|f|pear|pears|food
batata|batatas|f|potato|potatoes|food
morango|morangos|m|strawberry|strawberries|food
limão|limões|m|lemon|lemons|food
pão|-|m|bread|-|food,mass
arroz|-|m|rice|-|food,mass
queijo|-|m|cheese|-|food,mass
carne|-|f|meat|-|food,mass
sopa|-|f|soup|-|food,mass
água|-|f|water|-|drink,mass
leite|-|m|milk|-|drink,mass
café|-|m|coffee|-|drink,mass
chá|-|m|tea|-|drink,mass
sumo|-|m|juice|-|drink,mass
vinho|-|m|wine|-|drink,mass
livro|livros|m|book|books|read,thing,shop
carta|cartas|f|letter|letters|read,write
jornal|jornais|m|newspaper|newspapers|read,shop
revista|revistas|f|magazine|magazines|read,shop
poema|poemas|m|poem|poems|read,write
história|histórias|f|story|stories|read,write
mensagem|mensagens|f|message|messages|read,write
caneta|canetas|f|pen|pens|thing
lápis|lápis|m|pencil|pencils|thing
caderno|cadernos|m|notebook|notebooks|thing
chave|chaves|f|key|keys|thing
prato|pratos|m|plate|plates|thing
bola|bolas|f|ball|balls|thing
brinquedo|brinquedos|m|toy|toys|thing
relógio|relógios|m|watch|watches|thing
telefone|telefones|m|phone|phones|thing
computador|computadores|m|computer|computers|thing
chapéu|chapéus|m|hat|hats|thing,clothes
casaco|casacos|m|coat|coats|thing,clothes
sapato|sapatos|m|shoe|shoes|thing,clothes
camisa|camisas|f|shirt|shirts|thing,clothes
quadro|quadros|m|painting|paintings|thing
fotografia|fotografias|f|photo|photos|thing
flor|flores|f|flower|flowers|thing
lâmpada|lâmpadas|f|lamp|lamps|thing
espelho|espelhos|m|mirror|mirrors|thing
copo|copos|m|glass|glasses|container
garrafa|garrafas|f|bottle|bottles|container
caixa|caixas|f|box|boxes|container|in
saco|sacos|m|bag|bags|container|in
mala|malas|f|suitcase|suitcases|container|in
cesto|cestos|m|basket|baskets|container|in
mesa|mesas|f|table|tables|surface|on
cadeira|cadeiras|f|chair|chairs|surface|on
cama|camas|f|bed|beds|surface,bed|on
sofá|sofás|m|sofa|sofas|surface,bed|on
porta|portas|f|door|doors|door
janela|janelas|f|window|windows|door
carro|carros|m|car|cars|vehicle,drive|in
bicicleta|bicicletas|f|bicycle|bicycles|vehicle|on
autocarro|autocarros|m|bus|buses|vehicle,drive,catch|on
comboio|comboios|m|train|trains|vehicle,catch|on
barco|barcos|m|boat|boats|vehicle|on
avião|aviões|m|plane|planes|vehicle,catch|on
casa|casas|f|house|houses|place,building|in|through
escola|escolas|f|school|schools|place,building|at
cidade|cidades|f|city|cities|place|in|through
parque|parques|m|park|parks|place|in|through
jardim|jardins|m|garden|gardens|place|in|through
mercado|mercados|m|market|markets|place,building|at|through
praia|praias|f|beach|beaches|place|on|along
floresta|florestas|f|forest|forests|place|in|through
hospital|hospitais|m|hospital|hospitals|place,building|at
loja|lojas|f|store|stores|place,building|at
biblioteca|bibliotecas|f|library|libraries|place,building|in
estação|estações|f|station|stations|place,building|at
aldeia|aldeias|f|village|villages|place|in|through
campo|campos|m|field|fields|place|in|across
quinta|quintas|f|farm|farms|place|on
cozinha|cozinhas|f|kitchen|kitchens|place,room|in
quarto|quartos|m|bedroom|bedrooms|place,room|in
restaurante|restaurantes|m|restaurant|restaurants|place,building|at
museu|museus|m|museum|museums|place,building|in|through
rua|ruas|f|street|streets|road,place|on|along
estrada|estradas|f|road|roads|road|on|along
ponte|pontes|f|bridge|bridges|road|on|across
praça|praças|f|square|squares|road,place|in|across
rio|rios|m|river|rivers|road,water|in|along
lago|lagos|m|lake|lakes|water|in|across
mar|-|m|sea|-|water|in
"""

# Adjectives: m.sg | f.sg | m.pl | f.pl | en | order | copula | kinds
ADJECTIVES_TABLE = """
grande|grande|grandes|grandes|big|1|ser|animal,thing,container,surface,vehicle,place,road
pequeno|pequena|pequenos|pequenas|small|1|ser|person,animal,thing,container,surface,vehicle,place,road
alto|alta|altos|altas|tall|1|ser|person
baixo|baixa|baixos|baixas|short|1|ser|person
largo|larga|largos|largas|wide|1|ser|road
estreito|estreita|estreitos|estreitas|narrow|1|ser|road
comprido|comprida|compridos|compridas|long|1|ser|road
perigoso|perigosa|perigosos|perigosas|dangerous|0|ser|road,animal
movimentado|movimentada|movimentados|movimentadas|busy|0|estar|road
novo|nova|novos|novas|new|2|ser|thing,container,surface,vehicle,read,building
velho|velha|velhos|velhas|old|2|ser|person,animal,thing,container,surface,vehicle,building
jovem|jovem|jovens|jovens|young|2|ser|person,animal
antigo|antiga|antigos|antigas|ancient|2|ser|building,read
moderno|moderna|modernos|modernas|modern|2|ser|building,vehicle
vermelho|vermelha|vermelhos|vermelhas|red|3|ser|thing,container,vehicle,door
azul|azul|azuis|azuis|blue|3|ser|thing,container,vehicle,door
verde|verde|verdes|verdes|green|3|ser|thing,container,vehicle,door
branco|branca|brancos|brancas|white|3|ser|animal,thing,container,vehicle,door,building
preto|preta|pretos|pretas|black|3|ser|animal,thing,container,vehicle
amarelo|amarela|amarelos|amarelas|yellow|3|ser|thing,container,vehicle,door
castanho|castanha|castanhos|castanhas|brown|3|ser|animal,thing,surface
cinzento|cinzenta|cinzentos|cinzentas|gray|3|ser|animal,vehicle
bonito|bonita|bonitos|bonitas|beautiful|0|ser|person,animal,thing,vehicle,place
feio|feia|feios|feias|ugly|0|ser|animal,thing,building
caro|cara|caros|caras|expensive|0|ser|thing,container,vehicle,read,food
barato|barata|baratos|baratas|cheap|0|ser|thing,container,vehicle,read,food
pesado|pesada|pesados|pesadas|heavy|0|ser|thing,container,surface
leve|leve|leves|leves|light|0|ser|thing,container
rápido|rápida|rápidos|rápidas|fast|0|ser|animal,vehicle
lento|lenta|lentos|lentas|slow|0|ser|animal,vehicle
interessante|interessante|interessantes|interessantes|interesting|0|ser|read,building
difícil|difícil|difíceis|difíceis|difficult|0|ser|read
fácil|fácil|fáceis|fáceis|easy|0|ser|read
limpo|limpa|limpos|limpas|clean|0|estar|thing,container,surface,vehicle,room
sujo|suja|sujos|sujas|dirty|0|estar|thing,container,surface,vehicle,room,animal
cheio|cheia|cheios|cheias|full|0|estar|container
vazio|vazia|vazios|vazias|empty|0|estar|container
quente|quente|quentes|quentes|hot|0|estar|food,drink
frio|fria|frios|frias|cold|0|estar|food,drink,water
delicioso|deliciosa|deliciosos|deliciosas|delicious|0|ser|food
doce|doce|doces|doces|sweet|0|ser|food
fresco|fresca|frescos|frescas|fresh|0|ser|food
cansado|cansada|cansados|cansadas|tired|0|estar|person,animal
feliz|feliz|felizes|felizes|happy|0|estar|person,animal
triste|triste|tristes|tristes|sad|0|estar|person,animal
doente|doente|doentes|doentes|sick|0|estar|person,animal
ocupado|ocupada|ocupados|ocupadas|busy|0|estar|person
zangado|zangada|zangados|zangadas|angry|0|estar|person,animal
nervoso|nervosa|nervosos|nervosas|nervous|0|estar|person,animal
assustado|assustada|assustados|assustadas|scared|0|estar|person,animal
molhado|molhada|molhados|molhadas|wet|0|estar|person,animal,thing
simpático|simpática|simpáticos|simpáticas|friendly|0|ser|person,animal
inteligente|inteligente|inteligentes|inteligentes|smart|0|ser|person,animal
forte|forte|fortes|fortes|strong|0|ser|person,animal
fraco|fraca|fracos|fracas|weak|0|ser|person,animal
gordo|gorda|gordos|gordas|fat|0|ser|animal
rico|rica|ricos|ricas|rich|0|ser|person
pobre|pobre|pobres|pobres|poor|0|ser|person
famoso|famosa|famosos|famosas|famous|0|ser|person,building,read
escuro|escura|escuros|escuras|dark|0|ser|place,road
silencioso|silenciosa|silenciosos|silenciosas|quiet|0|ser|place,road
barulhento|barulhenta|barulhentos|barulhentas|noisy|0|ser|place,road,animal,vehicle
"""

# Verbs: infinitive | base | 3sg | past | -ing | frame:args | subjects | aspect
VERBS_TABLE = """
comer|eat|eats|ate|eating|T:food|pa|dyn
beber|drink|drinks|drank|drinking|T:drink|pa|dyn
comprar|buy|buys|bought|buying|T:food,drink,thing,container,shop,vehicle|p|dyn
vender|sell|sells|sold|selling|T:food,thing,container,shop,vehicle,animal|p|dyn
ler|read|reads|read|reading|T:read|p|dyn
escrever|write|writes|wrote|writing|T:write|p|dyn
abrir|open|opens|opened|opening|T:container,door|p|dyn
fechar|close|closes|closed|closing|T:container,door|p|dyn
lavar|wash|washes|washed|washing|T:clothes,container,vehicle,thing|p|dyn
limpar|clean|cleans|cleaned|cleaning|T:surface,room,vehicle,door|p|dyn
procurar|look for|looks for|looked for|looking for|T:thing,container,read,animal,person|pa|dyn
encontrar|find|finds|found|finding|T:thing,container,read,animal|pa|pf
perder|lose|loses|lost|losing|T:thing,container,read|p|pf
levar|take|takes|took|taking|T:thing,container,read,food|p|dyn
trazer|bring|brings|brought|bringing|T:thing,container,read,food,drink|p|dyn
carregar|carry|carries|carried|carrying|T:container,thing|pa|dyn
cozinhar|cook|cooks|cooked|cooking|T:food|p|dyn
cortar|cut|cuts|cut|cutting|T:food|p|dyn
preparar|prepare|prepares|prepared|preparing|T:food|p|dyn
pintar|paint|paints|painted|painting|T:surface,door,building,vehicle|p|dyn
desenhar|draw|draws|drew|drawing|T:animal,building,vehicle,thing|p|dyn
visitar|visit|visits|visited|visiting|T:place,person|p|dyn
ajudar|help|helps|helped|helping|T:person,animal|p|dyn
chamar|call|calls|called|calling|T:person,animal|p|dyn
esperar|wait for|waits for|waited for|waiting for|T:person,catch|p|dyn
seguir|follow|follows|followed|following|T:person,animal,vehicle|pa|dyn
apanhar|catch|catches|caught|catching|T:animal,catch|pa|dyn
conduzir|drive|drives|drove|driving|T:drive|p|dyn
empurrar|push|pushes|pushed|pushing|T:surface,container,vehicle|p|dyn
esconder|hide|hides|hid|hiding|T:thing,container,read,food|pa|dyn
escolher|choose|chooses|chose|choosing|T:thing,food,read,animal|p|pf
pedir|ask for|asks for|asked for|asking for|T:food,drink,thing|p|dyn
morder|bite|bites|bit|biting|T:person,animal,thing|a|dyn
usar|use|uses|used|using|T:thing,container|p|dyn
encher|fill|fills|filled|filling|T:container|p|dyn
atravessar|cross|crosses|crossed|crossing|T:road|pa|dyn
ver|see|sees|saw|seeing|T:animal,person,vehicle,place,thing|pa|stat
ouvir|hear|hears|heard|hearing|T:animal,person,vehicle|pa|stat
ter|have|has|had|having|T:thing,container,read,animal,vehicle|p|stat
querer|want|wants|wanted|wanting|T:food,drink,thing,read,vehicle,animal|pa|stat
conhecer|know|knows|knew|knowing|T:person,place|p|stnp
viver|live|lives|lived|living|L:place|pa|stat
trabalhar|work|works|worked|working|L:place|p|dyn
estudar|study|studies|studied|studying|L:place|p|dyn
aprender|learn|learns|learned|learning|L:building|p|dyn
dormir|sleep|sleeps|slept|sleeping|L:bed,room|pa|dyn
descansar|rest|rests|rested|resting|L:bed,place|pa|dyn
brincar|play|plays|played|playing|L:place|pa|dyn
nadar|swim|swims|swam|swimming|L:water|pa|dyn
correr|run|runs|ran|running|L:place|pa|dyn
cantar|sing|sings|sang|singing|L:place|pa|dyn
dançar|dance|dances|danced|dancing|L:place|p|dyn
chorar|cry|cries|cried|crying|I|p|dyn
chegar|arrive|arrives|arrived|arriving|I|pa|pf
sair|leave|leaves|left|leaving|I|pa|pf
voltar|come back|comes back|came back|coming back|I|pa|pf
ir|go|goes|went|going|M:place|pa|dyn
andar|walk|walks|walked|walking|P:place,road|pa|dyn
dar|give|gives|gave|giving|D:food,thing,read|p|dyn
mostrar|show|shows|showed|showing|D:thing,read,container|p|dyn
mandar|send|sends|sent|sending|D:write|p|dyn
emprestar|lend|lends|lent|lending|D:thing,read,vehicle|p|dyn
oferecer|offer|offers|offered|offering|D:food,drink,thing|p|dyn
gostar|like|likes|liked|liking|G:person,animal,food,drink,thing,read,place|pa|stat
precisar|need|needs|needed|needing|G:thing,container,read,food,drink,vehicle|pa|stat
"""

# Regular endings, persons 0..4 (eu, tu, ele, nós, eles).
_ENDINGS = {
    "ar": {
        "pres": ("o", "as", "a", "amos", "am"),
        "pret": ("ei", "aste", "ou", "ámos", "aram"),
        "impf": ("ava", "avas", "ava", "ávamos", "avam"),
        "fut": ("arei", "arás", "ará", "aremos", "arão"),
    },
    "er": {
        "pres": ("o", "es", "e", "emos", "em"),
        "pret": ("i", "este", "eu", "emos", "eram"),
        "impf": ("ia", "ias", "ia", "íamos", "iam"),
        "fut": ("erei", "erás", "erá", "eremos", "erão"),
    },
    "ir": {
        "pres": ("o", "es", "e", "imos", "em"),
        "pret": ("i", "iste", "iu", "imos", "iram"),
        "impf": ("ia", "ias", "ia", "íamos", "iam"),
        "fut": ("irei", "irás", "irá", "iremos", "irão"),
    },
}

# Whole tenses that do not follow the regular endings.
_IRREGULAR = {
    "ser": {
        "pres": "sou és é somos são",
        "impf": "era eras era éramos eram",
        "fut": "serei serás será seremos serão",
    },
    "estar": {
        "pres": "estou estás está estamos estão",
        "pret": "estive estiveste esteve estivemos estiveram",
    },
    "ter": {
        "pres": "tenho tens tem temos têm",
        "pret": "tive tiveste teve tivemos tiveram",
        "impf": "tinha tinhas tinha tínhamos tinham",
    },
    "ir": {
        "pres": "vou vais vai vamos vão",
        "pret": "fui foste foi fomos foram",
    },
    "ler": {"pres": "leio lês lê lemos leem"},
    "ver": {
        "pres": "vejo vês vê vemos veem",
        "pret": "vi viste viu vimos viram",
    },
    "trazer": {
        "pres": "trago trazes traz trazemos trazem",
        "pret": "trouxe trouxeste trouxe trouxemos trouxeram",
        "fut": "trarei trarás trará traremos trarão",
    },
    "dar": {
        "pres": "dou dás dá damos dão",
        "pret": "dei deste deu demos deram",
    },
    "querer": {
        "pres": "quero queres quer queremos querem",
        "pret": "quis quiseste quis quisemos quiseram",
    },
    "sair": {
        "pres": "saio sais sai saímos saem",
        "pret": "saí saíste saiu saímos saíram",
        "impf": "saía saías saía saíamos saíam",
    },
    "seguir": {"pres": "sigo segues segue seguimos seguem"},
    "conduzir": {"pres": "conduzo conduzes conduz conduzimos conduzem"},
}

# Single irregular cells: (infinitive, tense, person) -> form.
_IRREGULAR_CELLS = {
    ("dormir", "pres", 0): "durmo",
    ("ouvir", "pres", 0): "ouço",
    ("pedir", "pres", 0): "peço",
    ("perder", "pres", 0): "perco",
    ("conhecer", "pres", 0): "conheço",
    ("oferecer", "pres", 0): "ofereço",
}


def conjugate(inf: str) -> dict[str, tuple[str, ...]]:
    """Portuguese forms of ``inf``: ``{tense: (eu, tu, ele, nós, eles)}``.

    Example:
        >>> conjugate("falar")["pret"]
        ('falei', 'falaste', 'falou', 'falámos', 'falaram')
    """
    stem, group = inf[:-2], inf[-2:]
    table = {}
    for tense, endings in _ENDINGS[group].items():
        forms = [stem + e for e in endings]
        if group == "ar" and tense == "pret":
            # Spelling keeps the consonant's sound before -ei: brinquei, cheguei, dancei.
            forms[0] = {"c": stem[:-1] + "qu", "g": stem + "u", "ç": stem[:-1] + "c"}.get(
                stem[-1], stem
            ) + "ei"
        table[tense] = forms
    for tense, forms in _IRREGULAR.get(inf, {}).items():
        table[tense] = forms.split()
    for (verb, tense, person), form in _IRREGULAR_CELLS.items():
        if verb == inf:
            table[tense][person] = form
    return {tense: tuple(forms) for tense, forms in table.items()}


def _rows(table: str) -> list[list[str]]:
    return [line.split("|") for line in table.strip().splitlines()]


def _parse_nouns() -> list[Noun]:
    nouns = []
    for row in _rows(NOUNS_TABLE):
        pt, pt_pl, gender, en, en_pl, kinds = row[:6]
        extra = dict(zip(("loc", "via"), row[6:]))
        kinds = tuple(kinds.split(","))
        if pt_pl == "-" and "name" not in kinds and "mass" not in kinds:
            kinds += ("singular",)
        nouns.append(Noun(pt, pt_pl, gender, en, en_pl, kinds, **extra))
    return nouns


def _parse_adjectives() -> list[Adjective]:
    return [
        Adjective((a, b, c, d), en, int(order), copula, tuple(kinds.split(",")))
        for a, b, c, d, en, order, copula, kinds in _rows(ADJECTIVES_TABLE)
    ]


def _parse_verbs() -> list[Verb]:
    verbs = []
    for inf, base, s3, past, ing, frame, subjects, aspect in _rows(VERBS_TABLE):
        kind, _, args = frame.partition(":")
        verbs.append(
            Verb(
                inf,
                (base, s3, past, ing),
                kind,
                tuple(filter(None, args.split(","))),
                subjects,
                aspect,
                conjugate(inf),
            )
        )
    return verbs


NOUNS = _parse_nouns()
ADJECTIVES = _parse_adjectives()
VERBS = _parse_verbs()
SER = conjugate("ser")
ESTAR = conjugate("estar")

# Portuguese numbers 2..12 and 20 with their English words; "dois" agrees in gender.
NUMBERS = [
    (("dois", "duas"), "two"),
    (("três",) * 2, "three"),
    (("quatro",) * 2, "four"),
    (("cinco",) * 2, "five"),
    (("seis",) * 2, "six"),
    (("sete",) * 2, "seven"),
    (("oito",) * 2, "eight"),
    (("nove",) * 2, "nine"),
    (("dez",) * 2, "ten"),
    (("onze",) * 2, "eleven"),
    (("doze",) * 2, "twelve"),
    (("vinte",) * 2, "twenty"),
]
