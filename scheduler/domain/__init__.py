"""The domain: what a ritual is and how it is judged. Pure: values in, values out.

Cadences and reminders, ritual definitions and the ritual file's rules, streaks and
strength, firing verdicts, reports, what a nudge says and how its one-tap link is
signed. Nothing here reads the clock, touches a file or the network, or imports a
library beyond the standard library, pydantic and dateutil.
"""
