"""A fictional directory with enrolled team chats, for the handoff tests."""

from __future__ import annotations

from dataclasses import dataclass

from storage.directory.csvfile import import_csv
from storage.directory.enrollment import create_enrollment_code
from tests.support.fake_telegram import FakeUser
from tests.support.stack import Stack

DIRECTORY = """slug,name,departements,city,latitude,longitude,accredited_until,intake_open,phone,source
test-paris,Association Test Paris,75,Paris,48.86,2.36,2099-01-01,true,,fictional test data
test-expired,Association Test Expirée,75,Paris,48.853,2.349,2020-01-01,true,,fictional test data
test-closed,Association Test Fermée,75,Paris,48.853,2.349,2099-01-01,false,,fictional test data
test-nord,Association Test Seine-Saint-Denis,93,Saint-Denis,48.93,2.35,2099-01-01,true,01 00 00 00 00,fictional test data
test-lyon,Association Test Lyon,69,Lyon,45.76,4.83,2099-01-01,true,,fictional test data
"""
GROUPS = {"test-paris": -1001, "test-expired": -1002, "test-closed": -1003, "test-nord": -1004, "test-lyon": -1005}


@dataclass
class Directory:
    staff: dict[str, FakeUser]

    def notices(self, slug: str) -> list[str]:
        return [m["text"] for m in self.staff[slug].bot_messages() if "demande anonyme" in m["text"].lower()]


def reference_on(user: FakeUser) -> str:
    """The reference the person's latest screen shows, which their notice shows too."""
    text = next(t for t in reversed(user.texts()) if "Référence" in t)
    return text.split("Référence")[1].split(":", 1)[1].split()[0]


async def enrolled_directory(stack: Stack) -> Directory:
    db = stack.app.runtime.db
    async with db.begin() as session:
        await import_csv(session, DIRECTORY.encode())
    staff: dict[str, FakeUser] = {}
    for number, (slug, chat_id) in enumerate(GROUPS.items()):
        async with db.begin() as session:
            code = await create_enrollment_code(session, slug)
        member = stack.user(50_000 + number, first_name="Staff", chat_id=chat_id, chat_type="group", chat_title=slug)
        await member.send(f"/enroll {code}")
        assert "reçoit désormais les demandes" in member.last()["text"]
        staff[slug] = member
    return Directory(staff)
