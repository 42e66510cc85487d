"""Messages a person may send that the bot cannot use, as Telegram would deliver them."""

from __future__ import annotations

from typing import Any

FILE = {"file_id": "AgAD", "file_unique_id": "AQAD"}
CONTENT: dict[str, dict[str, Any]] = {
    "sticker": {
        "sticker": {**FILE, "type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False}
    },
    "photo": {"photo": [{**FILE, "width": 90, "height": 90}]},
    "voice": {"voice": {**FILE, "duration": 3}},
    "video": {"video": {**FILE, "width": 1, "height": 1, "duration": 1}},
    "video_note": {"video_note": {**FILE, "length": 1, "duration": 1}},
    "document": {"document": {**FILE, "file_name": "scan.pdf"}},
    "audio": {"audio": {**FILE, "duration": 1}},
    "poll": {
        "poll": {
            "id": "1",
            "question": "?",
            "options": [{"persistent_id": f"o{n}", "text": t, "voter_count": 0} for n, t in enumerate(("oui", "non"))],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": False,
            "members_only": False,
        }
    },
}
