"""The directory of associations, in three parts that do not import one another.

- `csvfile`: the operator's CSV file, validated whole, imported (all rows or none) and exported;
- `nearest`: which association to offer a person, from plain data loaded once;
- `enrollment`: binding an association's Telegram chat with a one-time code.

Like storage.tickets, nothing here commits: each caller owns its transaction
(`async with db.begin() as session:`), so an import or an enrollment is applied whole
with whatever else the caller does, or not at all.
"""
