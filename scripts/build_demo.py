"""Build the bundled SYNTHETIC demo archive (services/demo/data/), deterministically.

Every article, outlet, domain and claim in the output is invented by this script: no
text comes from a dataset, a feed or a real outlet. Outlets live under the reserved
`.example` top-level domain, and every source carries the tag `synthetic-demo`.

What the demo holds (around the 30 September 2018 name referendum in North Macedonia):

* ordinary local news as the bulk: templated and varied (a title and 4-6 sentences
  drawn from pools per language), from 30 invented outlets in all seven countries
  (RS, MK, BA, XK, ME, AL, HR) and eight languages/scripts (mk, sq, sr-Cyrl, sr-Latn,
  bs, hr, cnr, en);
* a boycott / illegitimacy narrative that rises day by day before the vote;
* a burst: many boycott articles from Macedonian outlets inside one hour on the eve;
* two coordinated-amplification episodes: one story copied by several outlets of one
  country within hours (Serbia, then North Macedonia);
* a look-alike domain (`balkaninsight-news.example`, imitating Balkan Insight);
* articles restating invented "debunked claims", and those claims (`demo-claims.json`;
  `hybridwatch run --demo` builds its claim index from them with the detector's builder).

    .venv/bin/python scripts/build_demo.py            # rewrites services/demo/data/
    .venv/bin/python scripts/build_demo.py --check    # fails if the committed files differ

Same code, same output, byte for byte (fixed seed, sorted output, gzip mtime 0).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hybridwatch.config import SourceConfig
from hybridwatch.events import Article
from ingest.normalise import normalise
from ingest.parse import RawEntry

OUT_DIR = Path(__file__).resolve().parent.parent / "services" / "demo" / "data"
ARTICLES_FILE = "demo-articles.ndjson.gz"
CLAIMS_FILE = "demo-claims.json"
SEED = 20180930
FIRST_DAY = datetime(2018, 9, 16, tzinfo=UTC)
DAYS = 18  # 16 Sep .. 3 Oct 2018
VOTE_DAY = datetime(2018, 9, 30, tzinfo=UTC)
SYNTHETIC_TAG = "synthetic-demo"
LEDE = 400  # as scripts/build_claim_index.py

# ---------------------------------------------------------------------------------
# Serbian Latin -> Cyrillic (the demo's sr-Cyrl outlets write the sr-Latn pools in Cyrillic)

_DIGRAPHS = {"lj": "љ", "nj": "њ", "dž": "џ", "Lj": "Љ", "Nj": "Њ", "Dž": "Џ", "LJ": "Љ", "NJ": "Њ"}
_LETTERS = dict(
    zip(
        "abcčćdđefghijklmnoprsštuvzžABCČĆDĐEFGHIJKLMNOPRSŠTUVZŽ",
        "абцчћдђефгхијклмнопрсштувзжАБЦЧЋДЂЕФГХИЈКЛМНОПРСШТУВЗЖ",
        strict=True,
    )
)


def cyrillic(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair in _DIGRAPHS:
            out.append(_DIGRAPHS[pair])
            i += 2
            continue
        out.append(_LETTERS.get(text[i], text[i]))
        i += 1
    return "".join(out)


# ---------------------------------------------------------------------------------
# Outlets (all invented)


@dataclass(frozen=True)
class Outlet:
    id: str
    name: str
    country: str
    language: str
    narrative: bool = False
    """Publishes the boycott narrative too."""

    @property
    def domain(self) -> str:
        return f"{self.id}.example"

    def config(self) -> SourceConfig:
        return SourceConfig(
            id=f"demo-{self.id}",
            outlet=f"{self.name} (synthetic)",
            country=self.country,
            language=self.language,
            feed_url=f"https://{self.domain}/feed.xml",
            tags=(SYNTHETIC_TAG,),
        )


OUTLETS: tuple[Outlet, ...] = (
    Outlet("dnevni-glasnik", "Dnevni Glasnik", "RS", "sr-Latn", narrative=True),
    Outlet("novosadski-list", "Novosadski List", "RS", "sr-Latn"),
    Outlet("beogradska-hronika", "Beogradska Hronika", "RS", "sr-Cyrl"),
    Outlet("srpski-pregled", "Srpski Pregled", "RS", "sr-Cyrl", narrative=True),
    Outlet("moravski-vesnik", "Moravski Vesnik", "RS", "sr-Cyrl", narrative=True),
    Outlet("vardarski-vesnik", "Вардарски весник", "MK", "mk"),
    Outlet("ohridski-glas", "Охридски глас", "MK", "mk", narrative=True),
    Outlet("skopska-hronika", "Скопска хроника", "MK", "mk", narrative=True),
    Outlet("balkanski-informator", "Балкански информатор", "MK", "mk", narrative=True),
    Outlet("zeri-i-pollogut", "Zëri i Pollogut", "MK", "sq", narrative=True),
    Outlet("sarajevski-dnevnik", "Sarajevski dnevnik", "BA", "bs"),
    Outlet("bosanska-panorama", "Bosanska panorama", "BA", "bs", narrative=True),
    Outlet("banjalucki-glas", "Banjalučki glas", "BA", "sr-Cyrl", narrative=True),
    Outlet("hercegovacki-tjednik", "Hercegovački tjednik", "BA", "hr"),
    Outlet("lajmet-e-dardanise", "Lajmet e Dardanisë", "XK", "sq"),
    Outlet("gazeta-e-mengjesit", "Gazeta e Mëngjesit", "XK", "sq"),
    Outlet("kosovski-glas", "Kosovski glas", "XK", "sr-Latn", narrative=True),
    Outlet("prishtina-post", "Prishtina Post", "XK", "en"),
    Outlet("primorski-glas", "Primorski glas", "ME", "cnr"),
    Outlet("glas-zete", "Glas Zete", "ME", "cnr", narrative=True),
    Outlet("crnogorska-hronika", "Crnogorska hronika", "ME", "sr-Latn", narrative=True),
    Outlet("zeri-i-shkodres", "Zëri i Shkodrës", "AL", "sq"),
    Outlet("lajmi-i-dites", "Lajmi i Ditës", "AL", "sq", narrative=True),
    Outlet("vlora-lajme", "Vlora Lajme", "AL", "sq"),
    Outlet("adriatic-observer", "Adriatic Observer", "AL", "en", narrative=True),
    Outlet("zagrebacki-tjednik", "Zagrebački tjednik", "HR", "hr"),
    Outlet("dalmatinski-dnevnik", "Dalmatinski dnevnik", "HR", "hr"),
    Outlet("slavonska-kronika", "Slavonska kronika", "HR", "hr", narrative=True),
    Outlet("croatia-weekly-review", "Croatia Weekly Review", "HR", "en"),
)
LOOKALIKE = Outlet("balkaninsight-news", "Balkan Insight News", "MK", "en")
"""A look-alike of balkaninsight.com (brand + hyphen): the impersonation case."""

CITIES: dict[str, dict[str, tuple[str, ...]]] = {
    # country -> script/language group -> city names as that outlet writes them
    "RS": {"latn": ("Beograd", "Novi Sad", "Niš", "Kragujevac", "Subotica", "Čačak")},
    "MK": {
        "mk": ("Скопје", "Битола", "Куманово", "Охрид", "Штип", "Струмица"),
        "latn": ("Skopje", "Bitola", "Kumanovo", "Ohrid", "Štip", "Strumica"),
        "sq": ("Shkup", "Tetovë", "Gostivar", "Kërçovë", "Strugë", "Dibër"),
        "en": ("Skopje", "Bitola", "Kumanovo", "Ohrid", "Tetovo", "Strumica"),
    },
    "BA": {"latn": ("Sarajevo", "Banja Luka", "Tuzla", "Mostar", "Zenica", "Bihać")},
    "XK": {
        "sq": ("Prishtinë", "Prizren", "Pejë", "Gjakovë", "Ferizaj", "Gjilan"),
        "latn": ("Priština", "Prizren", "Peć", "Gračanica", "Mitrovica", "Gnjilane"),
        "en": ("Pristina", "Prizren", "Peja", "Gjakova", "Ferizaj", "Gjilan"),
    },
    "ME": {"latn": ("Podgorica", "Nikšić", "Bar", "Budva", "Cetinje", "Herceg Novi")},
    "AL": {
        "sq": ("Tiranë", "Durrës", "Shkodër", "Vlorë", "Elbasan", "Korçë"),
        "en": ("Tirana", "Durres", "Shkoder", "Vlore", "Elbasan", "Korce"),
    },
    "HR": {
        "latn": ("Zagreb", "Split", "Rijeka", "Osijek", "Zadar", "Pula"),
        "en": ("Zagreb", "Split", "Rijeka", "Osijek", "Zadar", "Pula"),
    },
}


def cities_for(outlet: Outlet) -> tuple[str, ...]:
    groups = CITIES[outlet.country]
    lang = outlet.language
    key = "mk" if lang == "mk" else "sq" if lang == "sq" else "en" if lang == "en" else "latn"
    return groups.get(key) or groups.get("latn") or next(iter(groups.values()))


# ---------------------------------------------------------------------------------
# Ordinary news pools (written for this demo). sr-Cyrl uses the sr-Latn pool, in Cyrillic.

Pool = tuple[tuple[str, ...], tuple[str, ...]]
"""(titles, sentences)"""

ORDINARY: dict[str, Pool] = {
    "en": (
        (
            "{city} council approves new budget for public transport",
            "Heavy rain expected in {city} over the weekend",
            "{city} hosts regional book fair with {n} publishers",
            "Football club from {city} wins {n}-1 at home",
            "New bridge in {city} opens to traffic after two years of works",
            "Hospital in {city} gets {n} new ambulances",
            "Tourist numbers in {city} up {pct} percent this season",
            "Students in {city} start the year in renovated classrooms",
            "Farmers near {city} report a good grape harvest",
            "Water supply restored in parts of {city}",
            "Jazz festival returns to {city} for its {n}th edition",
            "Bread and milk prices steady, statistics office says",
            "{city} marathon draws {big} runners",
            "Power cut in {city} repaired within hours",
        ),
        (
            "The city council in {city} voted on the proposal on Tuesday, with {n} members in favour.",
            "Officials said the works would cost about {big} euros and should finish before winter.",
            "Meteorologists expect temperatures between {n} and {m} degrees in the coming days.",
            "Organisers said more than {big} visitors came on the first day.",
            "The coach praised his players and said the team was ready for the next match.",
            "According to the statistics office, prices rose by {pct} percent compared with last year.",
            "Residents of {city} welcomed the decision but asked for more parking spaces.",
            "The hospital director said waiting times had fallen by {pct} percent.",
            "Schools in {city2} will receive new computers by the end of the year.",
            "Traffic on the main road to {city2} will be slower while the works last.",
            "The mayor of {city} said the project had been planned for several years.",
            "Local businesses expect a busy autumn after a strong summer season.",
            "The festival programme includes concerts, exhibitions and workshops for children.",
            "Police asked drivers to take care on wet roads near {city2}.",
            "Entry to all events is free, the organisers said.",
            "Engineers from {city2} inspected the site on {weekday} morning.",
            "A second phase of the project is planned for next spring.",
        ),
    ),
    "sr-Latn": (
        (
            "{city}: gradsko veće usvojilo budžet za javni prevoz",
            "{city}: za vikend kiša i niže temperature",
            "{city}: sajam knjiga okupio {n} izdavača",
            "Fudbaleri iz grada {city} pobedili sa {n}:1",
            "{city}: novi most pušten u saobraćaj",
            "{city}: bolnica dobila {n} novih vozila hitne pomoći",
            "Broj turista u gradu {city} veći za {pct} odsto",
            "{city}: đaci krenuli u obnovljene učionice",
            "Dobra berba grožđa u okolini grada {city}",
            "{city}: vodosnabdevanje ponovo uredno",
            "{city}: džez festival po {n}. put",
            "Cene hleba i mleka stabilne, kaže zavod za statistiku",
            "{city}: na maratonu {big} trkača",
            "{city}: kvar na mreži otklonjen za nekoliko sati",
        ),
        (
            "Odbornici u gradu {city} glasali su o predlogu u utorak, a za je bilo {n} odbornika.",
            "Radovi će koštati oko {big} evra i trebalo bi da budu završeni pre zime.",
            "Meteorolozi očekuju temperature između {n} i {m} stepeni narednih dana.",
            "Organizatori kažu da je prvog dana došlo više od {big} posetilaca.",
            "Trener je pohvalio igrače i rekao da je tim spreman za sledeću utakmicu.",
            "Prema podacima zavoda za statistiku, cene su porasle za {pct} odsto u odnosu na prošlu godinu.",
            "Stanovnici grada {city} pozdravili su odluku, ali traže više parking mesta.",
            "Direktor bolnice kaže da je vreme čekanja kraće za {pct} odsto.",
            "Škole u gradu {city2} dobiće nove računare do kraja godine.",
            "Saobraćaj na putu ka gradu {city2} biće sporiji dok traju radovi.",
            "Gradonačelnik je rekao da je projekat planiran nekoliko godina.",
            "Lokalni privrednici očekuju dobru jesen posle uspešne letnje sezone.",
            "Program festivala obuhvata koncerte, izložbe i radionice za decu.",
            "Policija moli vozače da budu oprezni na mokrim putevima.",
            "Ulaz na sve događaje je besplatan, navode organizatori.",
            "Inženjeri iz grada {city2} obišli su gradilište u {weekday} ujutru.",
            "Druga faza projekta planirana je za sledeće proleće.",
        ),
    ),
    "hr": (
        (
            "{city}: gradsko vijeće izglasalo proračun za javni prijevoz",
            "{city}: vikend donosi kišu i niže temperature",
            "{city}: sajam knjiga okupio {n} nakladnika",
            "Nogometaši iz grada {city} slavili s {n}:1",
            "{city}: novi most otvoren za promet",
            "{city}: bolnica dobila {n} novih vozila hitne pomoći",
            "Broj turista u gradu {city} veći za {pct} posto",
            "{city}: učenici krenuli u obnovljene učionice",
            "Dobra berba grožđa u okolici grada {city}",
            "{city}: opskrba vodom ponovno uredna",
            "{city}: jazz festival po {n}. put",
            "Cijene kruha i mlijeka stabilne, izvješćuje zavod za statistiku",
            "{city}: na maratonu {big} trkača",
            "{city}: kvar na mreži otklonjen za nekoliko sati",
        ),
        (
            "Vijećnici u gradu {city} glasovali su o prijedlogu u utorak, a za je bilo {n} vijećnika.",
            "Radovi će stajati oko {big} eura i trebali bi biti gotovi prije zime.",
            "Meteorolozi očekuju temperature između {n} i {m} stupnjeva sljedećih dana.",
            "Organizatori kažu da je prvoga dana došlo više od {big} posjetitelja.",
            "Trener je pohvalio igrače i rekao da je momčad spremna za sljedeću utakmicu.",
            "Prema podacima zavoda za statistiku, cijene su porasle za {pct} posto u odnosu na prošlu godinu.",
            "Stanovnici grada {city} pozdravili su odluku, ali traže više parkirnih mjesta.",
            "Ravnatelj bolnice kaže da je vrijeme čekanja kraće za {pct} posto.",
            "Škole u gradu {city2} dobit će nova računala do kraja godine.",
            "Promet na cesti prema gradu {city2} bit će sporiji dok traju radovi.",
            "Gradonačelnik je rekao da je projekt planiran nekoliko godina.",
            "Lokalni poduzetnici očekuju dobru jesen nakon uspješne ljetne sezone.",
            "Program festivala uključuje koncerte, izložbe i radionice za djecu.",
            "Policija moli vozače da budu oprezni na mokrim cestama.",
            "Ulaz na sva događanja je besplatan, navode organizatori.",
            "Inženjeri iz grada {city2} obišli su gradilište u {weekday} ujutro.",
            "Druga faza projekta planirana je za sljedeće proljeće.",
        ),
    ),
    "bs": (
        (
            "{city}: gradsko vijeće usvojilo budžet za javni prevoz",
            "{city}: za vikend kiša i niže temperature",
            "{city}: sajam knjiga okupio {n} izdavača",
            "Fudbaleri iz grada {city} slavili sa {n}:1",
            "{city}: novi most pušten u saobraćaj",
            "{city}: bolnica dobila {n} novih vozila hitne pomoći",
            "Broj turista u gradu {city} veći za {pct} posto",
            "{city}: učenici krenuli u obnovljene učionice",
            "Dobra berba grožđa u okolini grada {city}",
            "{city}: snabdijevanje vodom ponovo uredno",
            "{city}: džez festival po {n}. put",
            "Cijene hljeba i mlijeka stabilne, kaže zavod za statistiku",
            "{city}: na maratonu {big} trkača",
            "{city}: kvar na mreži otklonjen za nekoliko sati",
        ),
        (
            "Vijećnici u gradu {city} glasali su o prijedlogu u utorak, a za je bilo {n} vijećnika.",
            "Radovi će koštati oko {big} KM i trebali bi biti završeni prije zime.",
            "Meteorolozi očekuju temperature između {n} i {m} stepeni narednih dana.",
            "Organizatori kažu da je prvog dana došlo više od {big} posjetilaca.",
            "Trener je pohvalio igrače i rekao da je ekipa spremna za narednu utakmicu.",
            "Prema podacima zavoda za statistiku, cijene su porasle za {pct} posto u odnosu na prošlu godinu.",
            "Stanovnici grada {city} pozdravili su odluku, ali traže više parking mjesta.",
            "Direktor bolnice kaže da je vrijeme čekanja kraće za {pct} posto.",
            "Škole u gradu {city2} dobit će nove računare do kraja godine.",
            "Saobraćaj na putu prema gradu {city2} bit će sporiji dok traju radovi.",
            "Načelnik je rekao da je projekat planiran nekoliko godina.",
            "Lokalni privrednici očekuju dobru jesen nakon uspješne ljetne sezone.",
            "Program festivala obuhvata koncerte, izložbe i radionice za djecu.",
            "Policija moli vozače da budu oprezni na mokrim cestama.",
            "Ulaz na sve događaje je besplatan, navode organizatori.",
            "Inženjeri iz grada {city2} obišli su gradilište u {weekday} ujutro.",
            "Druga faza projekta planirana je za naredno proljeće.",
        ),
    ),
    "cnr": (
        (
            "{city}: Skupština opštine usvojila budžet za javni prevoz",
            "{city}: za vikend kiša i niže temperature",
            "{city}: sajam knjiga okupio {n} izdavača",
            "Fudbaleri iz grada {city} slavili sa {n}:1",
            "{city}: novi most pušten u saobraćaj",
            "{city}: Dom zdravlja dobio {n} nova vozila hitne pomoći",
            "Broj turista u gradu {city} veći za {pct} odsto",
            "{city}: đaci krenuli u obnovljene učionice",
            "Dobra berba grožđa u okolini grada {city}",
            "{city}: vodosnabdijevanje ponovo uredno",
            "{city}: džez festival po {n}. put",
            "Cijene hljeba i mlijeka stabilne, saopštio Monstat",
            "{city}: na maratonu {big} trkača",
            "{city}: kvar na mreži otklonjen za nekoliko sati",
        ),
        (
            "Odbornici u gradu {city} glasali su o predlogu u utorak, a za je bilo {n} odbornika.",
            "Radovi će koštati oko {big} eura i trebalo bi da budu završeni prije zime.",
            "Meteorolozi očekuju temperature između {n} i {m} stepeni narednih dana.",
            "Organizatori kažu da je prvog dana došlo više od {big} posjetilaca.",
            "Trener je pohvalio igrače i kazao da je ekipa spremna za narednu utakmicu.",
            "Prema podacima Monstata, cijene su porasle za {pct} odsto u odnosu na prošlu godinu.",
            "Građani grada {city} pozdravili su odluku, ali traže više parking mjesta.",
            "Direktor Doma zdravlja kaže da je vrijeme čekanja kraće za {pct} odsto.",
            "Škole u gradu {city2} dobiće nove računare do kraja godine.",
            "Saobraćaj na putu ka gradu {city2} biće sporiji dok traju radovi.",
            "Gradonačelnik je kazao da je projekat planiran nekoliko godina.",
            "Lokalni privrednici očekuju dobru jesen poslije uspješne ljetnje sezone.",
            "Program festivala obuhvata koncerte, izložbe i radionice za đecu.",
            "Uprava policije moli vozače da budu oprezni na mokrim putevima.",
            "Ulaz na sve događaje je besplatan, navode organizatori.",
            "Inženjeri iz grada {city2} obišli su gradilište u {weekday} ujutru.",
            "Druga faza projekta planirana je za naredno proljeće.",
        ),
    ),
    "mk": (
        (
            "{city}: Советот на општината го усвои буџетот за јавен превоз",
            "{city}: за викендот дожд и пониски температури",
            "{city}: саемот на книга собра {n} издавачи",
            "Фудбалерите од {city} победија со {n}:1",
            "{city}: новиот мост е пуштен во сообраќај",
            "{city}: болницата доби {n} нови возила за итна помош",
            "Бројот на туристи во {city} е зголемен за {pct} отсто",
            "{city}: учениците почнаа во обновени училници",
            "Добра берба на грозје околу {city}",
            "{city}: водоснабдувањето повторно е уредно",
            "{city}: џез фестивалот по {n}. пат",
            "Цените на лебот и млекото се стабилни, соопшти Заводот за статистика",
            "{city}: на маратонот трчаа {big} тркачи",
            "{city}: дефектот на мрежата отстранет за неколку часа",
        ),
        (
            "Советниците во {city} гласаа за предлогот во вторник, а за беа {n} советници.",
            "Работите ќе чинат околу {big} евра и треба да завршат пред зимата.",
            "Метеоролозите очекуваат температури меѓу {n} и {m} степени во наредните денови.",
            "Организаторите велат дека првиот ден дошле повеќе од {big} посетители.",
            "Тренерот ги пофали играчите и рече дека тимот е подготвен за следниот натпревар.",
            "Според Заводот за статистика, цените пораснале за {pct} отсто во однос на минатата година.",
            "Жителите на {city} ја поздравија одлуката, но бараат повеќе паркинг места.",
            "Директорот на болницата вели дека чекањето е пократко за {pct} отсто.",
            "Училиштата во {city2} ќе добијат нови компјутери до крајот на годината.",
            "Сообраќајот на патот кон {city2} ќе биде побавен додека траат работите.",
            "Градоначалникот рече дека проектот бил планиран неколку години.",
            "Локалните бизниси очекуваат добра есен по успешната летна сезона.",
            "Програмата на фестивалот вклучува концерти, изложби и работилници за деца.",
            "Полицијата ги моли возачите да бидат внимателни на мокрите патишта.",
            "Влезот на сите настани е бесплатен, велат организаторите.",
            "Инженери од {city2} го обиколија градилиштето во {weekday} наутро.",
            "Втората фаза од проектот е планирана за следната пролет.",
        ),
    ),
    "sq": (
        (
            "{city}: këshilli bashkiak miratoi buxhetin për transportin publik",
            "{city}: shi dhe temperatura më të ulëta gjatë fundjavës",
            "{city}: panairi i librit mblodhi {n} botues",
            "Futbollistët nga {city} fitojnë {n}-1 në shtëpi",
            "{city}: ura e re hapet për qarkullim",
            "{city}: spitali merr {n} automjete të reja të ndihmës së shpejtë",
            "Numri i turistëve në {city} rritet me {pct} për qind",
            "{city}: nxënësit nisin vitin në klasa të rinovuara",
            "Vjelje e mirë e rrushit rreth {city}",
            "{city}: furnizimi me ujë rikthehet normalisht",
            "{city}: festivali i xhazit për herë të {n}",
            "Çmimet e bukës dhe qumështit të qëndrueshme, thotë instituti i statistikave",
            "{city}: maratona mblodhi {big} vrapues",
            "{city}: defekti në rrjet u riparua brenda disa orësh",
        ),
        (
            "Këshilltarët në {city} votuan për propozimin të martën, me {n} vota pro.",
            "Punimet do të kushtojnë rreth {big} euro dhe duhet të përfundojnë para dimrit.",
            "Meteorologët presin temperatura ndërmjet {n} dhe {m} gradë në ditët në vijim.",
            "Organizatorët thonë se ditën e parë erdhën më shumë se {big} vizitorë.",
            "Trajneri i lavdëroi lojtarët dhe tha se ekipi është gati për ndeshjen e radhës.",
            "Sipas institutit të statistikave, çmimet u rritën me {pct} për qind krahasuar me vitin e kaluar.",
            "Banorët e {city} e mirëpritën vendimin, por kërkojnë më shumë vende parkimi.",
            "Drejtori i spitalit thotë se koha e pritjes është shkurtuar me {pct} për qind.",
            "Shkollat në {city2} do të marrin kompjuterë të rinj deri në fund të vitit.",
            "Qarkullimi në rrugën drejt {city2} do të jetë më i ngadaltë gjatë punimeve.",
            "Kryetari i bashkisë tha se projekti ishte planifikuar prej disa vitesh.",
            "Bizneset vendore presin një vjeshtë të mirë pas një sezoni të suksesshëm veror.",
            "Programi i festivalit përfshin koncerte, ekspozita dhe punëtori për fëmijë.",
            "Policia u bën thirrje shoferëve të jenë të kujdesshëm në rrugët e lagura.",
            "Hyrja në të gjitha ngjarjet është falas, thonë organizatorët.",
            "Inxhinierët nga {city2} e vizituan kantierin të {weekday} në mëngjes.",
            "Faza e dytë e projektit është planifikuar për pranverën e ardhshme.",
        ),
    ),
}

WEEKDAYS: dict[str, tuple[str, ...]] = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"),
    "sr-Latn": ("ponedeljak", "utorak", "sredu", "četvrtak", "petak"),
    "hr": ("ponedjeljak", "utorak", "srijedu", "četvrtak", "petak"),
    "bs": ("ponedjeljak", "utorak", "srijedu", "četvrtak", "petak"),
    "cnr": ("ponedjeljak", "utorak", "srijedu", "četvrtak", "petak"),
    "mk": ("понеделник", "вторник", "среда", "четврток", "петок"),
    "sq": ("hënën", "martën", "mërkurën", "enjten", "premten"),
}

# Neutral referendum coverage (the vote is news too; none of it says boycott or fraud)
REFERENDUM_NEUTRAL: dict[str, Pool] = {
    "mk": (
        (
            "Државната изборна комисија: подготовките за референдумот течат според планот",
            "{city}: граѓаните се информираат за референдумот на 30 септември",
        ),
        (
            "Државната изборна комисија соопшти дека гласачките материјали се испратени до сите општини.",
            "Граѓаните на 30 септември ќе одговараат на прашањето за договорот со Грција.",
            "Набљудувачи од неколку организации ќе го следат гласањето во {city}.",
            "Избирачките места ќе бидат отворени од 7 до 19 часот.",
        ),
    ),
    "sq": (
        (
            "KSHZ: përgatitjet për referendumin vazhdojnë sipas planit",
            "{city}: qytetarët informohen për referendumin e 30 shtatorit",
        ),
        (
            "Komisioni shtetëror zgjedhor tha se materialet e votimit janë dërguar në të gjitha komunat.",
            "Më 30 shtator qytetarët do t'i përgjigjen pyetjes për marrëveshjen me Greqinë.",
            "Vëzhgues nga disa organizata do ta ndjekin votimin në {city}.",
            "Vendvotimet do të jenë të hapura nga ora 7 deri në ora 19.",
        ),
    ),
    "en": (
        (
            "North Macedonia prepares for Sunday's name referendum",
            "Observers arrive ahead of the 30 September vote",
        ),
        (
            "The state election commission said ballot papers had been sent to every municipality.",
            "Voters will be asked whether they support the agreement with Greece.",
            "Observers from several organisations will follow the vote in {city}.",
            "Polling stations will be open from 7 am to 7 pm.",
        ),
    ),
}

# ---------------------------------------------------------------------------------
# The boycott / illegitimacy narrative (written for this demo; it is what the
# referendum-illegitimacy pack is for, so these sentences are meant to match it)

NARRATIVE: dict[str, Pool] = {
    "mk": (
        (
            "Повик за бојкот на референдумот во {city}",
            "Активисти: референдумот е нелегитимен",
            "„Преспанскиот договор е наметнат“, велат граѓански групи во {city}",
            "Бојкот на референдумот се шири и во {city}",
            "Протест во {city}: промената на името е наметната",
            "Граѓани од {city} најавуваат бојкот на референдумот",
        ),
        (
            "Бојкот на референдумот е единствениот одговор, велат организаторите на средбата во {city}.",
            "Според нив, референдумот е нелегитимен ако излезат помалку од половина од гласачите.",
            "Преспанскиот договор е наметнат од странство, тврдат говорниците.",
            "Активистите делеа летоци со повик за бојкот на референдумот.",
            "Промената на името е наметната под притисок, велат протестантите.",
            "Тие тврдат дека резултатот на референдумот е наместен уште пред гласањето.",
            "На собирот во {city2} присуствуваа неколку стотици луѓе.",
            "Организаторите најавија нови собири до денот на гласањето.",
        ),
    ),
    "sr-Latn": (
        (
            "Poziv na bojkot referenduma u Makedoniji",
            "Aktivisti: referendum o imenu je nelegitiman",
            "Prespanski sporazum je nametnut spolja, tvrde protivnici",
            "Bojkot referenduma se širi pred glasanje",
            "Protivnici sporazuma: promena imena je nametnuta",
        ),
        (
            "Aktivisti pozivaju građane Makedonije na bojkot referenduma o imenu.",
            "Referendum je nelegitiman ako izađe manje od polovine birača, kažu organizatori.",
            "Prespanski sporazum je nametnut spolja i predstavlja izdaju, tvrde protivnici.",
            "Promena imena je nametnuta pod pritiskom Zapada, navode kritičari.",
            "Kritičari tvrde da je referendum nameštena predstava.",
            "Skup protivnika sporazuma održan je i u gradu {city}.",
            "Organizatori najavljuju nove skupove do dana glasanja.",
        ),
    ),
    "sq": (
        (
            "Thirrje për bojkot të referendumit në Maqedoni",
            "Kundërshtarët: referendumi është jolegjitim",
            "Marrëveshja e Prespës është imponuar, thonë protestuesit",
            "Bojkoti i referendumit zgjerohet para votimit",
        ),
        (
            "Aktivistët bëjnë thirrje për bojkot të referendumit të së dielës.",
            "Kritikët thonë se referendumi është jolegjitim nëse del më pak se gjysma e votuesve.",
            "Marrëveshja e Prespës është imponuar nga jashtë, thanë folësit në tubim.",
            "Protestuesit në {city} shpërndanë fletëpalosje kundër votimit.",
            "Organizatorët paralajmërojnë tubime të reja deri në ditën e votimit.",
        ),
    ),
    "en": (
        (
            "Activists call for boycott of the name referendum",
            "Opposition groups say the referendum is illegitimate",
            "Prespa agreement imposed from outside, critics say",
            "Boycott campaign grows ahead of Sunday's vote",
        ),
        (
            "Activists urged voters to boycott the referendum on Sunday.",
            "Critics say the referendum is illegitimate because the question was dictated from abroad.",
            "The Prespa agreement was imposed by foreign powers, a protest leader said.",
            "Opponents say Macedonia is being forced to change its name.",
            "A rally against the deal was also held in {city}.",
            "Organisers promised more rallies before the vote.",
        ),
    ),
    "bs": (
        (
            "Opozicija u Makedoniji poziva na bojkot referenduma",
            "Kritičari: referendum o imenu je nelegitiman",
        ),
        (
            "Opozicija u Makedoniji poziva na bojkot referenduma o imenu.",
            "Kritičari kažu da je referendum nelegitiman ako izađe manje od polovine birača.",
            "Prespanski sporazum je nametnut izvana, tvrde protivnici.",
            "Skupovi protivnika sporazuma najavljeni su do dana glasanja.",
        ),
    ),
    "hr": (
        (
            "Aktivisti pozivaju na bojkot referenduma u Makedoniji",
            "Protivnici: referendum je nelegitiman",
        ),
        (
            "Aktivisti pozivaju na bojkot referenduma o imenu u Makedoniji.",
            "Referendum je nelegitiman ako izađe manje od polovine birača, tvrde protivnici.",
            "Prespanski sporazum je nametnut, kažu govornici na skupu.",
            "Novi skupovi najavljeni su do dana glasovanja.",
        ),
    ),
    "cnr": (
        (
            "Aktivisti pozivaju na bojkot referenduma o imenu",
            "Protivnici sporazuma: referendum je nelegitiman",
        ),
        (
            "Aktivisti pozivaju na bojkot referenduma o imenu u susjednoj državi.",
            "Referendum je nelegitiman ako izađe manje od polovine birača, kažu protivnici.",
            "Skup podrške bojkotu održan je i u gradu {city}.",
            "Organizatori najavljuju nove skupove do dana glasanja.",
        ),
    ),
}

# ---------------------------------------------------------------------------------
# Invented "debunked claims" and the articles restating them

CLAIMS: tuple[dict[str, str], ...] = (
    {
        "case_id": "demo-claim-1",
        "language": "en",
        "date": "2018-09-20",
        "text": "Tens of thousands of dead voters remain on the electoral roll so that the "
        "referendum turnout can be inflated in secret.",
    },
    {
        "case_id": "demo-claim-2",
        "language": "mk",
        "date": "2018-09-22",
        "text": "По промената на името Грција ќе ги контролира македонските училишта и "
        "учебниците по историја.",
    },
    {
        "case_id": "demo-claim-3",
        "language": "sr-Latn",
        "date": "2018-09-24",
        "text": "Posle referenduma građani Makedonije moraće da plaćaju posebnu taksu za "
        "svaki ulazak u Grčku.",
    },
    {
        "case_id": "demo-claim-4",
        "language": "sq",
        "date": "2018-09-25",
        "text": "Bashkimi Evropian ka premtuar pesëqind euro për çdo votues që voton po në "
        "referendumin e Maqedonisë.",
    },
    {
        "case_id": "demo-claim-5",
        "language": "en",
        "date": "2018-09-26",
        "text": "Foreign soldiers will be stationed in every Macedonian town on the day after "
        "the referendum.",
    },
)

CLAIM_ARTICLES: dict[str, tuple[tuple[str, str], ...]] = {
    # case_id -> (title, lede) as the restating outlets write them
    "demo-claim-1": (
        (
            "Dead voters on the roll: referendum turnout to be inflated in secret",
            "Tens of thousands of dead voters remain on the electoral roll so that the "
            "referendum turnout can be inflated in secret, a blogger claims.",
        ),
        (
            "Tens of thousands of dead voters kept on the electoral roll",
            "Tens of thousands of dead voters remain on the electoral roll, and the "
            "referendum turnout will be inflated in secret, activists say.",
        ),
    ),
    "demo-claim-2": (
        (
            "Грција ќе ги контролира македонските училишта по промената на името",
            "По промената на името Грција ќе ги контролира македонските училишта и "
            "учебниците по историја, тврди анонимен извор.",
        ),
        (
            "Учебниците по историја под контрола на Грција?",
            "Македонските училишта и учебниците по историја ќе ги контролира Грција по "
            "промената на името, пишува порталот.",
        ),
    ),
    "demo-claim-3": (
        (
            "Posebna taksa za svaki ulazak u Grčku posle referenduma",
            "Posle referenduma građani Makedonije moraće da plaćaju posebnu taksu za svaki "
            "ulazak u Grčku, tvrdi izvor portala.",
        ),
        (
            "Građani Makedonije plaćaće taksu za ulazak u Grčku",
            "Građani Makedonije moraće da plaćaju posebnu taksu za svaki ulazak u Grčku "
            "posle referenduma, navodi se u tekstu.",
        ),
    ),
    "demo-claim-4": (
        (
            "BE premton pesëqind euro për çdo votues që voton po",
            "Bashkimi Evropian ka premtuar pesëqind euro për çdo votues që voton po në "
            "referendumin e Maqedonisë, shkruan një portal.",
        ),
        (
            "Pesëqind euro për votuesit e referendumit nga Bashkimi Evropian",
            "Çdo votues që voton po në referendumin e Maqedonisë do të marrë pesëqind euro "
            "nga Bashkimi Evropian, pretendon një postim.",
        ),
    ),
    "demo-claim-5": (
        (
            "Foreign soldiers to be stationed in every Macedonian town after the vote",
            "Foreign soldiers will be stationed in every Macedonian town on the day after "
            "the referendum, an anonymous channel claims.",
        ),
        (
            "Soldiers in every town the day after the referendum",
            "On the day after the referendum foreign soldiers will be stationed in every "
            "Macedonian town, according to a viral post.",
        ),
    ),
}

# ---------------------------------------------------------------------------------
# Coordinated amplification: one story, copied word for word with a new first line

AMPLIFIED: tuple[dict[str, object], ...] = (
    {
        "country": "RS",
        "start": datetime(2018, 9, 27, 7, 10, tzinfo=UTC),
        "title": "Tajni dokument: kampanju za referendum u Makedoniji vode strani savetnici",
        "text": (
            "Portal je došao do dokumenta prema kojem kampanju za izlazak na referendum u "
            "Makedoniji vode strani savetnici iz nekoliko ambasada. U dokumentu se navodi da "
            "su savetnici pisali govore, birali goste emisija i plaćali reklame na društvenim "
            "mrežama. Prespanski sporazum je nametnut spolja, a građani to ne smeju da znaju, "
            "stoji u tekstu. Izvor portala tvrdi da je novac stigao preko nevladinih "
            "organizacija i da niko nije kontrolisao kako je potrošen. Ambasade nisu "
            "odgovorile na pitanja portala do objavljivanja teksta."
        ),
        "outlets": (
            "dnevni-glasnik",
            "srpski-pregled",
            "moravski-vesnik",
            "novosadski-list",
            "beogradska-hronika",
        ),
    },
    {
        "country": "MK",
        "start": datetime(2018, 9, 28, 15, 40, tzinfo=UTC),
        "title": "Странски советници ја водат кампањата за референдумот, открива документ",
        "text": (
            "Порталот дојде до документ според кој кампањата за излез на референдумот ја "
            "водат странски советници од неколку амбасади. Во документот пишува дека "
            "советниците пишувале говори, избирале гости во емисии и плаќале реклами на "
            "социјалните мрежи. Преспанскиот договор е наметнат од странство, а граѓаните "
            "не смеат да знаат, стои во текстот. Изворот тврди дека парите стигнале преку "
            "невладини организации и дека никој не контролирал како се потрошени."
        ),
        "outlets": (
            "balkanski-informator",
            "skopska-hronika",
            "ohridski-glas",
            "vardarski-vesnik",
        ),
    },
)
AMPLIFIED_LEADS: dict[str, tuple[str, ...]] = {
    "latn": (
        "Preneto sa drugih portala.",
        "Izvor: društvene mreže.",
        "Vest dana.",
        "",
        "Ekskluzivno.",
    ),
    "mk": ("Пренесено од други портали.", "Извор: социјални мрежи.", "", "Ексклузивно."),
}


# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    outlet: Outlet
    published: datetime
    title: str
    text: str
    slug: str


def _fill(rng: random.Random, template: str, outlet: Outlet, cities: Sequence[str]) -> str:
    city, city2 = rng.sample(list(cities), 2)
    lang = "sr-Latn" if outlet.language == "sr-Cyrl" else outlet.language
    days = WEEKDAYS.get(lang, WEEKDAYS["en"])
    return template.format(
        city=city,
        city2=city2,
        n=rng.randint(2, 19),
        m=rng.randint(20, 31),
        pct=rng.randint(3, 27),
        big=f"{rng.randint(2, 90) * 1000:,}".replace(",", "." if lang != "en" else ","),
        weekday=rng.choice(days),
    )


def _compose(rng: random.Random, outlet: Outlet, pool: Pool, k: tuple[int, int]) -> tuple[str, str]:
    cities = cities_for(outlet)
    titles, sentences = pool
    title = _fill(rng, rng.choice(titles), outlet, cities)
    chosen = rng.sample(list(sentences), min(len(sentences), rng.randint(*k)))
    text = " ".join(_fill(rng, s, outlet, cities) for s in chosen)
    if outlet.language == "sr-Cyrl":
        title, text = cyrillic(title), cyrillic(text)
    return title, text


def _pool_lang(outlet: Outlet) -> str:
    return "sr-Latn" if outlet.language == "sr-Cyrl" else outlet.language


def _local_time(rng: random.Random, day: datetime) -> datetime:
    """A publication time between 05:00 and 21:59 UTC (07-23 local) of `day`."""
    return day + timedelta(
        hours=rng.randint(5, 21), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59)
    )


def drafts() -> list[Draft]:
    rng = random.Random(SEED)
    out: list[Draft] = []
    counter = Counter[str]()

    def add(outlet: Outlet, when: datetime, title: str, text: str, kind: str) -> None:
        counter[outlet.id] += 1
        slug = f"{kind}-{counter[outlet.id]:04d}"
        out.append(Draft(outlet, when, title, text, slug))

    # 1. ordinary news: ~4-5 articles per outlet per day
    for d in range(DAYS):
        day = FIRST_DAY + timedelta(days=d)
        for outlet in OUTLETS:
            for _ in range(rng.randint(3, 6)):
                title, text = _compose(rng, outlet, ORDINARY[_pool_lang(outlet)], (4, 6))
                add(outlet, _local_time(rng, day), title, text, "news")
            if outlet.country == "MK" and day < VOTE_DAY + timedelta(days=1) and rng.random() < 0.6:
                lang = outlet.language if outlet.language in REFERENDUM_NEUTRAL else "en"
                title, text = _compose(rng, outlet, REFERENDUM_NEUTRAL[lang], (3, 4))
                add(outlet, _local_time(rng, day), title, text, "vote")

    # 2. the narrative, rising towards the vote: day k before 30 Sep carries ~14 - k
    narrators = [o for o in OUTLETS if o.narrative]
    for d in range(DAYS):
        day = FIRST_DAY + timedelta(days=d)
        before = (VOTE_DAY - day).days
        if before < -1:
            continue
        n = max(1, 16 - before) if before >= 0 else 4  # the day after: "it failed"
        for _ in range(n):
            outlet = rng.choice(narrators)
            title, text = _compose(rng, outlet, NARRATIVE[_pool_lang(outlet)], (3, 5))
            if before >= 0:
                # spread over the day, at most a couple an hour per country
                when = _local_time(rng, day)
            else:
                when = day + timedelta(hours=rng.randint(6, 20), minutes=rng.randint(0, 59))
            add(outlet, when, title, text, "politics")

    # 3. the burst: Macedonian outlets, 18 boycott articles between 19:00 and 19:55 on the eve
    eve = datetime(2018, 9, 29, 19, 0, tzinfo=UTC)
    mk_narrators = [o for o in narrators if o.country == "MK"]
    for i in range(18):
        outlet = mk_narrators[i % len(mk_narrators)]
        title, text = _compose(rng, outlet, NARRATIVE[_pool_lang(outlet)], (3, 5))
        add(
            outlet,
            eve + timedelta(minutes=3 * i, seconds=rng.randint(0, 59)),
            title,
            text,
            "politics",
        )

    # 4. coordinated amplification
    by_id = {o.id: o for o in OUTLETS}
    for episode in AMPLIFIED:
        start = episode["start"]
        assert isinstance(start, datetime)
        outlets = episode["outlets"]
        assert isinstance(outlets, tuple)
        for i, oid in enumerate(outlets):
            outlet = by_id[str(oid)]
            title, text = str(episode["title"]), str(episode["text"])
            leads = AMPLIFIED_LEADS["mk" if outlet.language == "mk" else "latn"]
            lead = leads[i % len(leads)]
            if outlet.language == "sr-Cyrl":
                title, text, lead = cyrillic(title), cyrillic(text), cyrillic(lead)
            body = f"{lead} {text}".strip()
            add(
                outlet,
                start + timedelta(minutes=25 * i + rng.randint(0, 9)),
                title,
                body,
                "exclusive",
            )

    # 5. the invented debunked claims, restated by outlets writing the claim's language
    for ci, claim in enumerate(CLAIMS):
        lang = claim["language"]
        writers = [
            o
            for o in OUTLETS
            if o.language == lang or (lang == "sr-Latn" and o.language == "sr-Cyrl")
        ]
        if lang == "en":
            writers.append(LOOKALIKE)
        for j in range(6):
            outlet = writers[(ci + j) % len(writers)]
            title, lede = CLAIM_ARTICLES[claim["case_id"]][j % 2]
            cities = cities_for(outlet)
            rest = " ".join(
                _fill(rng, s, outlet, cities)
                for s in rng.sample(list(ORDINARY[_pool_lang(outlet)][1]), 2)
            )
            text = f"{lede} {rest}"
            if outlet.language == "sr-Cyrl":
                title, text = cyrillic(title), cyrillic(text)
            day = datetime.fromisoformat(claim["date"]).replace(tzinfo=UTC) + timedelta(days=j % 4)
            add(outlet, _local_time(rng, day), title, text, "claims")

    # 6. the look-alike outlet: English copy of the narrative and plain news, a few a day
    for d in range(8, DAYS):
        day = FIRST_DAY + timedelta(days=d)
        pool = NARRATIVE["en"] if d % 2 else ORDINARY["en"]
        title, text = _compose(rng, LOOKALIKE, pool, (3, 5))
        add(LOOKALIKE, _local_time(rng, day), title, text, "world")
    return out


def articles() -> list[Article]:
    result: dict[str, Article] = {}
    configs: dict[str, SourceConfig] = {}
    for dr in drafts():
        cfg = configs.get(dr.outlet.id)
        if cfg is None:
            cfg = configs[dr.outlet.id] = dr.outlet.config()
        day = dr.published.strftime("%Y/%m/%d")
        link = f"https://{dr.outlet.domain}/{day}/{dr.slug}"
        entry = RawEntry(
            guid=None,
            link=link,
            title=dr.title,
            content=dr.text,
            published=dr.published,
            has_date=True,
        )
        fetched = dr.published + timedelta(minutes=4)
        a = normalise(entry, cfg, fetched)
        if a.language != cfg.language:  # keep the outlet's language: the demo must cover all
            a = a.model_copy(update={"language": cfg.language})
        result[a.id] = a
    return sorted(result.values(), key=lambda a: (a.published, a.id))


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def outputs() -> dict[str, bytes]:
    arts = articles()
    lines = "".join(a.to_json() + "\n" for a in arts).encode("utf-8")
    claims = {
        "synthetic": True,
        "note": "Invented claims for the hybridwatch demo (scripts/build_demo.py); "
        "not real disinformation cases. The demo builds its claim index from them.",
        "claims": [{**c, "url": f"https://factcheck.example/{c['case_id']}"} for c in CLAIMS],
    }
    text = json.dumps(claims, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    return {ARTICLES_FILE: _gz(lines), CLAIMS_FILE: text.encode("utf-8")}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--check", action="store_true", help="fail if the files on disk differ")
    args = ap.parse_args(argv)
    files = outputs()
    if args.check:
        stale = [
            n
            for n, b in files.items()
            if not (args.out / n).is_file() or (args.out / n).read_bytes() != b
        ]
        if stale:
            print(
                f"build_demo: {', '.join(stale)} in {args.out} differ from the generator's output; "
                "run scripts/build_demo.py",
                file=sys.stderr,
            )
            return 1
        print(f"build_demo: {args.out} is up to date")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_bytes(data)
    n = gzip.decompress(files[ARTICLES_FILE]).count(b"\n")
    print(f"build_demo: wrote {n} synthetic articles and {len(CLAIMS)} claims to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
