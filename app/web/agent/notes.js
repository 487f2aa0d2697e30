// Internal notes on the open conversation (staff only; the customer never sees them).

import { $, h } from "../shared/dom.js";
import { api } from "./api.js";
import { busy } from "./controls.js";
import { clockTime } from "./format.js";
import { state } from "./state.js";

export function addNote(note) {
  const current = state.current;
  if (!current || current.noteIds.has(note.id)) return;
  current.noteIds.add(note.id);
  $("notes").append(
    h(
      "li",
      { class: "note" },
      h(
        "div",
        { class: "msg-meta" },
        h("span", { class: "author" }, (note.author && note.author.name) || "Staff"),
        h("time", { datetime: note.created_at }, clockTime(note.created_at)),
      ),
      h("p", { class: "msg-text" }, note.text),
    ),
  );
}

export async function addNoteFromForm(event) {
  event.preventDefault();
  const current = state.current;
  const box = $("note");
  const text = box.value;
  if (!current || !text.trim()) return;
  const button = event.submitter || $("note-form").querySelector("button");
  await busy(button, async () => {
    const note = await api("POST", `/api/v1/agent/conversations/${encodeURIComponent(current.id)}/notes`, {
      body: { text },
    });
    box.value = "";
    if (state.current && state.current.id === current.id) addNote(note);
  });
}
