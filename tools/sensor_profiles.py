"""Sensor profiles: what one fingerprint module model does, from its documents, as data.

The simulator (tools/sensor_sim.py, tools/sensor_model.py) follows one profile;
each fact below names the document it comes from. Sources:

R503  Grow "R503 Fingerprint Module User Manual" V1.2.2 (2022.10),
      https://www.manualslib.com/manual/2937858/Grow-R503.html and the page-by-page copy
      https://manualshive.com/en/manual/grow/r503/2270381 ("page=N" below);
      Chinese R503S manual, https://1vq.net/article/erUH3uhoMOJg (pin 5 WAKEUP);
      field reports: https://github.com/adafruit/Adafruit_CircuitPython_Fingerprint/issues/20
      and /pull/21 (an R503 never finds a print with HiSpeedSearch 0x1B; PR #21 adds
      finger_search 0x04, "tested with R503"), https://github.com/brianrho/FPM/issues/8 and
      /issues/23 ("some devices (like the R551) don't support [0x1B], or time out").
R307  R307 fingerprint module datasheet, https://scribd.com/document/748546410/R307-Fingerprint-Module
      (touch output "low effective", image input < 0.3 s, search < 1.0 s for 1:1000,
      1000 templates); pin table https://techmaze.romman.store/product/99187577 (pin 5
      "Touch out: finger detection signal"); the AS608/R30x command set includes
      HiSpeedSearch 0x1B (Adafruit's finger_fast_search, written for product 751, an
      R307-family module); power-on time ~200 ms,
      https://makerselectronics.com/product/r307-finger-print-sensor/
"""

from __future__ import annotations

from dataclasses import dataclass

from fingerpos.tools import sensor_packets as sp

# The R30x instruction set both models share (R503 manual chapter V, page=16..).
_COMMON = frozenset({
    sp.GEN_IMG, sp.IMG2TZ, sp.MATCH, sp.SEARCH, sp.REG_MODEL, sp.STORE, sp.LOAD_CHAR,
    sp.DELET_CHAR, sp.EMPTY, sp.SET_SYS_PARA, sp.READ_SYS_PARA, sp.VFY_PWD,
    sp.TEMPLATE_NUM, sp.READ_INDEX_TABLE,
})


@dataclass(frozen=True)
class Profile:
    """One sensor model's documented behaviour (the simulator's reference)."""
    name: str
    commands: frozenset[int]  # instruction codes it implements; others get UNSUPPORTED
    capacity: int  # template library size ReadSysPara reports
    # Touch/wake output level while a finger is on the glass (the other level without one).
    touch_active: int
    # Seconds GenImg takes with a finger on the glass (capture), and without one.
    capture_s: float
    no_finger_s: float
    search_s_per_template: float  # Search/HiSpeedSearch time per stored template in range
    ready_s: float  # after power-on the module ignores commands this long
    power_on_byte: bytes  # sent once when ready (b"" when the model sends none)

    def touch_level(self, touched: bool) -> int:
        """The electrical level of the touch line (what a GPIO reads)."""
        return self.touch_active if touched else 1 - self.touch_active


# What a module answers to an instruction it does not implement: the R503 manual lists
# only "01H: error when receiving package" as the failure every instruction can return
# (e.g. VfyPwd, page=16; TemplateNum, page=19), so an unknown instruction gets that,
# in a reply carrying the confirmation code alone (length 3).
UNSUPPORTED = sp.RECEIVE_ERROR

PROFILES: dict[str, Profile] = {
    "r503": Profile(
        name="r503",
        # R503 manual V1.2.2 chapter V: the common set plus AuraLedConfig 0x35 (page=32),
        # SoftReset 0x3D (page=32), HandShake 0x40 and CheckSensor 0x36 (page=29), no
        # HiSpeedSearch 0x1B (absent from the manual's catalog; adafruit issue #20 / PR #21,
        # FPM #8 / #23 above). GetEcho 0x53 stays: the adafruit driver's check_module uses it.
        commands=_COMMON | {sp.AURA_LED_CONFIG, sp.SOFT_RESET, sp.HANDSHAKE,
                            sp.CHECK_SENSOR, sp.GET_ECHO},
        capacity=200,  # R503 manual I Introduction: template capacity 200
        # R503 manual page=8 "Hardware Connection": "When there is no finger touch, the
        # default touch sensing signal outputs high level; when a finger touches, ... low
        # level" (Chinese R503S manual pin 5 WAKEUP: 待机高电平，有手指时输出低电平).
        touch_active=0,
        capture_s=0.25,  # the brief's 0.2-0.5 s; R503 manual: image acquisition < 0.2 s + upload
        no_finger_s=0.05,
        # R503 manual I Introduction: "1:N < 10 ms / fingerprint"; 1 ms each is the mean
        # the R307 datasheet gives (1.0 s for 1:1000): use the documented upper bound.
        search_s_per_template=0.010,
        # R503 manual page=8 "Power-on delay time": about 50 ms of initialisation, no
        # commands; page=29 HandShake: "after the module is powered on, 0x55 will be
        # automatically sent as a handshake sign" (and again after SoftReset, page=32).
        ready_s=0.05,
        power_on_byte=bytes((sp.MODULE_OK,)),
    ),
    "r307": Profile(
        name="r307",
        commands=_COMMON | {sp.HI_SPEED_SEARCH, sp.GET_ECHO},
        capacity=1000,  # R307 datasheet: storage capacity 1000
        touch_active=0,  # R307 datasheet: "Finger touch sensing signal output, low effective"
        capture_s=0.3,  # R307 datasheet: fingerprint image input time < 0.3 s
        no_finger_s=0.05,
        search_s_per_template=0.001,  # R307 datasheet: search < 1.0 s for 1:1000 (mean)
        # The R307 documents found give no power-on handshake byte; the makerselectronics
        # R307 page says the module initialises in about 200 ms, then waits for commands.
        ready_s=0.2,
        power_on_byte=b"",
    ),
}

DEFAULT_PROFILE = "r503"


def get(name: str) -> Profile:
    """The profile called name; ValueError lists the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown sensor profile {name!r} (known: "
                         f"{', '.join(sorted(PROFILES))})") from None
