package bookclub

import "github.com/wardenhq/warden"

// The Doc options of the /api/users and /api/reviews routes, from which
// the server's OpenAPI document is generated. Responses are the handlers'
// own types; reviewInput reads pointers (to tell a missing member from a
// zero one), so the document shows newReviewDoc, its shape as a client
// writes it.

// newReviewDoc is reviewInput as documented: every member required.
type newReviewDoc struct {
	BookID     int64  `json:"book_id"`
	Title      string `json:"title"`
	ReviewText string `json:"review_text"`
	Rating     int    `json:"rating"`
	IsPublic   bool   `json:"is_public"`
}

// socialBusy is the 503 of every social route.
var socialBusy = warden.Problem("The database is not answering; retry after Retry-After.")

// hiddenUser is the 404 of every route under /api/users/{username}.
var hiddenUser = warden.Problem("No user has this username, or the caller may not see the profile: the two answers are identical.")

var usernameParam = []warden.Param{{Name: "username", Description: "A username (compared ignoring case), or me for the caller."}}

var reviewIDParam = []warden.Param{{Name: "id", Type: int64(0), Description: "The review's id."}}

const visibilityRule = "Seen per the profile's visibility: public by anyone, followers_only by approved followers and the owner, private by the owner only. "

var (
	docProfile = warden.Doc(warden.Operation{
		Summary:     "A user's profile",
		Description: visibilityRule + "followers and following count the approved follows the caller may see listed. The owner also gets first_name, last_name, notify_followers and notify_chat.",
		Path:        usernameParam,
		Responses:   map[int]any{200: profileView{}, 404: hiddenUser, 503: socialBusy},
	})
	docPatchMe = warden.Doc(warden.Operation{
		Summary:     "Change the caller's profile",
		Description: "Reads first_name, last_name, bio and visibility (public, followers_only or private) only; any other member is ignored. A member left out or null keeps its value. bio is plain text: markup is removed. Making a profile private keeps its followers, who no longer see it.",
		Request:     profilePatch{},
		Responses: map[int]any{
			200: ownProfileView{},
			400: warden.Problem("Invalid fields: a name over 150 characters, a bio over 500, control characters, a visibility other than the three values."),
			503: socialBusy,
		},
	})
	docFollowers = warden.Doc(warden.Operation{
		Summary:     "A user's followers",
		Description: visibilityRule + "Usernames of approved followers, newest first; a follower whose own profile is private is listed only to the list's owner and to that follower.",
		Path:        usernameParam,
		Query:       pageParams,
		Responses: map[int]any{
			200: listView[string]{},
			400: warden.Problem("A paging parameter is invalid."),
			404: hiddenUser, 503: socialBusy,
		},
	})
	docFollowing = warden.Doc(warden.Operation{
		Summary:     "Whom a user follows",
		Description: visibilityRule + "Usernames of the users followed (approved follows), newest first; a followed user whose profile is private is listed only to the list's owner and to that user.",
		Path:        usernameParam,
		Query:       pageParams,
		Responses: map[int]any{
			200: listView[string]{},
			400: warden.Problem("A paging parameter is invalid."),
			404: hiddenUser, 503: socialBusy,
		},
	})
	docFollow = warden.Doc(warden.Operation{
		Summary:     "Follow a user",
		Description: "A public user is followed at once (204); a followers_only user gets a follow request (202) until they approve it. Repeating is harmless: an approved follow answers 204 again, a pending request 202.",
		Path:        usernameParam,
		Responses: map[int]any{
			202: message{},
			204: nil,
			400: warden.Problem("You cannot follow yourself."),
			404: hiddenUser, 503: socialBusy,
		},
	})
	docUnfollow = warden.Doc(warden.Operation{
		Summary:     "Unfollow a user, or withdraw a follow request",
		Description: "204 whether or not there was a follow, except for a private user the caller had no follow or request with: 404, as for an unknown user.",
		Path:        usernameParam,
		Responses: map[int]any{
			204: nil,
			400: warden.Problem("You cannot follow yourself."),
			404: hiddenUser, 503: socialBusy,
		},
	})
	docFollowRequests = warden.Doc(warden.Operation{
		Summary:     "Pending follow requests to the caller",
		Description: "Usernames of the users waiting for the caller's approval, newest first.",
		Query:       pageParams,
		Responses: map[int]any{
			200: listView[string]{},
			400: warden.Problem("A paging parameter is invalid."),
			503: socialBusy,
		},
	})
	docApprove = warden.Doc(warden.Operation{
		Summary:     "Approve a follow request",
		Description: "The user becomes a follower (204); approving a user who already follows the caller answers 204 too.",
		Path:        []warden.Param{{Name: "username", Description: "The requester's username."}},
		Responses: map[int]any{
			204: nil,
			404: warden.Problem("This user has no pending follow request to the caller (the same answer for an unknown username)."),
			503: socialBusy,
		},
	})
	docDecline = warden.Doc(warden.Operation{
		Summary:     "Decline a follow request",
		Description: "Deletes the pending request (204). An approved follower is not removed.",
		Path:        []warden.Param{{Name: "username", Description: "The requester's username."}},
		Responses: map[int]any{
			204: nil,
			404: warden.Problem("This user has no pending follow request to the caller (the same answer for an unknown username)."),
			503: socialBusy,
		},
	})
	docListReviews = warden.Doc(warden.Operation{
		Summary:     "List reviews",
		Description: "Public reviews and the caller's own private ones, newest first. With book_id, one book's reviews (send it again with the cursor).",
		Query:       append([]warden.Param{{Name: "book_id", Type: int64(0), Description: "Only reviews of this book."}}, pageParams...),
		Responses: map[int]any{
			200: listView[reviewView]{},
			400: warden.Problem("book_id or a paging parameter is invalid."),
			503: socialBusy,
		},
	})
	docAddReview = warden.Doc(warden.Operation{
		Summary:     "Write a review",
		Description: "title is plain text (markup removed); review_text is HTML cleaned to p, br, strong, em, u, ul, ol, li and a (href: http, https or mailto only; rel=\"nofollow noopener\" added). Other members are ignored.",
		Request:     newReviewDoc{},
		Responses: map[int]any{
			201: reviewView{},
			400: warden.Problem("Invalid fields: a missing member, an unknown book_id, a title over 200 characters or a text over 10000, a rating outside 1 to 5, nothing left once markup is removed."),
			503: socialBusy,
		},
	})
	docGetReview = warden.Doc(warden.Operation{
		Summary:   "One review",
		Path:      reviewIDParam,
		Responses: map[int]any{200: reviewView{}, 404: warden.Problem("No review has this id, or it is another user's private review."), 503: socialBusy},
	})
	docUpdateReview = warden.Doc(warden.Operation{
		Summary:     "Change a review",
		Description: "For its author only. Reads title, review_text, rating and is_public; a member left out or null keeps its value; book_id and other members are ignored.",
		Path:        reviewIDParam,
		Request:     reviewPatch{},
		Responses: map[int]any{
			200: reviewView{},
			400: warden.Problem("Invalid fields, as for writing a review."),
			403: warden.Problem("The review is another user's."),
			404: warden.Problem("No review has this id, or it is another user's private review."),
			503: socialBusy,
		},
	})
	docDeleteReview = warden.Doc(warden.Operation{
		Summary:     "Delete a review",
		Description: "For its author only.",
		Path:        reviewIDParam,
		Responses: map[int]any{
			204: nil,
			403: warden.Problem("The review is another user's."),
			404: warden.Problem("No review has this id, or it is another user's private review."),
			503: socialBusy,
		},
	})
)
