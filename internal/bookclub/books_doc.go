package bookclub

import "github.com/wardenhq/warden"

// The Doc options of the /api/books routes, from which the server's
// OpenAPI document is generated. The shapes are the handlers' own types
// (bookInput, bookPatch, bookView, listView[bookView]).

// booksBusy is the 503 of every books route: the database is not
// answering.
var booksBusy = warden.Problem("The database is not answering; retry after Retry-After.")

// pageParams are the query parameters of every list (paging.go).
var pageParams = []warden.Param{
	{Name: "page", Type: 0, Description: "Page number, from 1 (an offset: deep pages cost more; follow next instead)."},
	{Name: "page_size", Type: 0, Description: "Results per page: 20 by default, at most 100 (larger values are clamped)."},
	{Name: "cursor", Description: "The next value of the previous page: continues the list after it, at the same cost however deep. Not with page."},
}

var bookIDParam = []warden.Param{{Name: "id", Type: int64(0), Description: "The book's id."}}

var (
	docListBooks = warden.Doc(warden.Operation{
		Summary:     "List books",
		Description: "Newest first. count is the number of books; next is the cursor of the following page, null on the last.",
		Query:       pageParams,
		Responses: map[int]any{
			200: listView[bookView]{},
			400: warden.Problem("A paging parameter is invalid (fields.page, fields.page_size or fields.cursor)."),
			503: booksBusy,
		},
	})
	docAddBook = warden.Doc(warden.Operation{
		Summary:     "Add a book",
		Description: "Needs the permission " + PermAddBook + " (warden user grant). The caller is recorded as the book's adder, who may change and delete it.",
		Request:     bookInput{},
		Responses: map[int]any{
			201: bookView{},
			400: warden.Problem("Invalid fields: title or author empty or over 200 characters, an ISBN that is not 10 or 13 digits."),
			503: booksBusy,
		},
	})
	docGetBook = warden.Doc(warden.Operation{
		Summary: "One book",
		Path:    bookIDParam,
		Responses: map[int]any{
			200: bookView{},
			404: warden.Problem("No book has this id."),
			503: booksBusy,
		},
	})
	docUpdateBook = warden.Doc(warden.Operation{
		Summary:     "Change a book",
		Description: "For the user who added it, or staff. Only title, author and isbn are read; other members are ignored.",
		Path:        bookIDParam,
		Request:     bookPatch{},
		Responses: map[int]any{
			200: bookView{},
			400: warden.Problem("Invalid fields, as for adding a book."),
			403: warden.Problem("The caller neither added the book nor is staff."),
			404: warden.Problem("No book has this id."),
			503: booksBusy,
		},
	})
	docDeleteBook = warden.Doc(warden.Operation{
		Summary:     "Delete a book",
		Description: "For the user who added it, or staff.",
		Path:        bookIDParam,
		Responses: map[int]any{
			204: nil,
			403: warden.Problem("The caller neither added the book nor is staff."),
			404: warden.Problem("No book has this id."),
			503: booksBusy,
		},
	})
)
